// Value checks of the trust policy that are more than a pattern: https URLs, the PEM CA
// bundle (every block a CA certificate, nothing else in the text) and SSH public keys.
// Each throws a plain Error with a message; trust-policy.ts turns it into
// TRUST_POLICY_INVALID with the member's path.
import { X509Certificate } from 'node:crypto';

export const MAX_CA_BUNDLE_CHARS = 128 * 1024;
export const MAX_CA_CERTIFICATES = 16;
export const SSH_KEY_TYPES = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa'] as const;

/**
 * An absolute https URL with a host, no credentials, no fragment, and (for an issuer) no
 * query either. Returned unchanged: `iss` is compared as a string, so it must stay exact.
 */
export function parseHttpsUrl(s: string, allowQuery: boolean): string {
  if (/\s/.test(s)) throw new Error(`URL "${s.slice(0, 100)}" contains whitespace`);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Error(`"${s.slice(0, 100)}" is not an absolute URL`);
  }
  if (u.protocol !== 'https:') throw new Error(`URL "${s.slice(0, 100)}" must use https`);
  if (u.hostname === '') throw new Error(`URL "${s.slice(0, 100)}" has no host`);
  if (u.username !== '' || u.password !== '') throw new Error(`URL "${s.slice(0, 100)}" must not carry credentials`);
  if (u.hash !== '' || s.includes('#')) throw new Error(`URL "${s.slice(0, 100)}" must not have a fragment`);
  if (!allowQuery && (u.search !== '' || s.includes('?'))) throw new Error(`issuer URL "${s.slice(0, 100)}" must not have a query`);
  return s;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\n([A-Za-z0-9+/=\n]*?)-----END ([A-Z0-9 ]+)-----(?:\n|$)/g;

function strictBase64(body: string): Buffer {
  const b64 = body.replace(/\n/g, '');
  const der = Buffer.from(b64, 'base64');
  if (b64.length === 0 || der.toString('base64') !== b64) throw new Error('a PEM block is not canonical base64');
  return der;
}

/**
 * One or more PEM CERTIFICATE blocks, LF line endings, nothing between them but newlines.
 * Every certificate must parse and be a CA (these are the roots the enclave trusts for the
 * JWKS endpoint's TLS). Returns the text unchanged.
 */
export function parseCaBundlePem(pem: string): string {
  if (pem.length === 0 || pem.length > MAX_CA_BUNDLE_CHARS) throw new Error(`must be 1 to ${MAX_CA_BUNDLE_CHARS} characters`);
  if (pem.includes('\r')) throw new Error('must use LF line endings');
  let count = 0;
  let rest = '';
  let last = 0;
  for (const m of pem.matchAll(PEM_BLOCK)) {
    rest += pem.slice(last, m.index);
    last = m.index + m[0].length;
    if (m[1] !== 'CERTIFICATE' || m[3] !== 'CERTIFICATE') throw new Error(`contains a "${(m[1] ?? '').slice(0, 32)}" block; only CERTIFICATE blocks are allowed`);
    if (++count > MAX_CA_CERTIFICATES) throw new Error(`holds more than ${MAX_CA_CERTIFICATES} certificates`);
    const der = strictBase64(m[2] ?? '');
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch {
      throw new Error(`certificate ${count} does not parse`);
    }
    if (!cert.raw.equals(der)) throw new Error(`certificate ${count} has bytes after its DER encoding`);
    if (!cert.ca) throw new Error(`certificate ${count} (${cert.subject.replace(/\n/g, ', ').slice(0, 100)}) is not a CA certificate`);
  }
  rest += pem.slice(last);
  if (rest.replace(/\n/g, '') !== '') throw new Error('contains text outside PEM CERTIFICATE blocks');
  if (count === 0) throw new Error('holds no certificate');
  return pem;
}

function readSshString(blob: Buffer, at: number): { value: Buffer; next: number } {
  if (at + 4 > blob.length) throw new Error('SSH public key blob is truncated');
  const len = blob.readUInt32BE(at);
  if (at + 4 + len > blob.length) throw new Error('SSH public key blob is truncated');
  return { value: blob.subarray(at + 4, at + 4 + len), next: at + 4 + len };
}

/**
 * `<type> <base64> [comment]` as in authorized_keys. The blob's own type string must equal
 * the text type. Returns `<type> <base64>` (the comment is not part of the key).
 */
export function parseSshPublicKey(line: string): { type: string; blob: Buffer; normalized: string } {
  const parts = line.split(' ');
  if (parts.length < 2) throw new Error('must be "<type> <base64> [comment]"');
  const [type, b64] = parts as [string, string];
  if (!(SSH_KEY_TYPES as readonly string[]).includes(type)) throw new Error(`key type "${type.slice(0, 40)}" is not one of ${SSH_KEY_TYPES.join(', ')}`);
  const blob = Buffer.from(b64, 'base64');
  if (blob.length === 0 || blob.toString('base64') !== b64) throw new Error('key is not canonical base64');
  const t = readSshString(blob, 0);
  if (t.value.toString('latin1') !== type) throw new Error('key blob type differs from the stated type');
  if (type === 'ssh-ed25519') {
    const k = readSshString(blob, t.next);
    if (k.value.length !== 32 || k.next !== blob.length) throw new Error('ssh-ed25519 key must be 32 bytes');
  }
  return { type, blob, normalized: `${type} ${b64}` };
}
