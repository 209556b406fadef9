// Git's SSH-signed commits (git ≥ 2.34, gpg.format=ssh): the commit carries a `gpgsig`
// header (`gpgsig-sha256` in sha256 repositories) holding an armored sshsig signature
// (OpenSSH PROTOCOL.sshsig) over the commit object *without* that header, in namespace
// "git". Here the enclave checks such a signature against an allowlist of public keys.
// node:crypto verifies Ed25519 and ECDSA P-256 natively; the formats (armor, sshsig blob,
// SSH keys) are small and fully specified, so they are parsed here rather than pulling in
// an SSH library. Fail closed: anything ambiguous or unknown is SSHSIG_INVALID.
import { createHash, verify as verifySignature } from 'node:crypto';
import { edgeFail } from './edge-error.ts';
import { SshReader, parseSshPublicKey, type SshPublicKey } from './ssh-wire.ts';

export type GitObjectFormat = 'sha1' | 'sha256';

export interface SshCommitSignatureOptions {
  /** Which header git signs with: `gpgsig` (sha1, default) or `gpgsig-sha256`. */
  objectFormat?: GitObjectFormat;
}

export interface VerifiedSshSignature {
  /** "SHA256:<base64, no padding>" of the signer's key, as `ssh-keygen -l` prints it. */
  fingerprint: string;
}

const MAX_COMMIT_BYTES = 1024 * 1024;
const MAX_ARMOR_BYTES = 16 * 1024;
const MAX_ALLOWED_KEYS = 256;
const NAMESPACE = 'git';
const MAGIC = 'SSHSIG';
const HASHES = new Set(['sha256', 'sha512']);
const BEGIN = '-----BEGIN SSH SIGNATURE-----';
const END = '-----END SSH SIGNATURE-----';

/**
 * Split a raw commit body into git's signed payload and the signature text, exactly as
 * git's parse_buffer_signed_by_header does, but refusing what git would tolerate
 * ambiguously: a repeated signature header, or a signature header for another hash.
 */
export function splitSignedCommit(raw: Uint8Array, objectFormat: GitObjectFormat): { payload: Uint8Array; signature: string } {
  const header = objectFormat === 'sha1' ? 'gpgsig ' : 'gpgsig-sha256 ';
  const text = Buffer.from(raw).toString('latin1');
  let payload = '';
  let signature = '';
  let seen = 0;
  let inSignature = false;
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const next = nl < 0 ? text.length : nl + 1;
    const line = text.slice(pos, next);
    if (line === '\n') {
      payload += text.slice(pos); // the blank line and the message are signed as they are
      break;
    }
    if (!line.endsWith('\n')) edgeFail('SSHSIG_INVALID', 'commit headers are not followed by a blank line');
    if (inSignature && line.startsWith(' ')) signature += line.slice(1);
    else if (line.startsWith(header)) {
      if (++seen > 1) edgeFail('SSHSIG_INVALID', `commit has more than one '${header.trim()}' header`);
      signature += line.slice(header.length);
      inSignature = true;
    } else if (line.startsWith('gpgsig')) edgeFail('SSHSIG_INVALID', `commit has a signature header '${line.split(' ')[0]}' for another object format`);
    else {
      payload += line;
      inSignature = false;
    }
    pos = next;
  }
  if (seen === 0) edgeFail('SSHSIG_INVALID', 'commit is not signed (no gpgsig header)');
  return { payload: new Uint8Array(Buffer.from(payload, 'latin1')), signature };
}

/** The armored sshsig text → blob: exact BEGIN/END lines, canonical base64, nothing else. */
export function decodeSshsigArmor(text: string): Uint8Array {
  if (text.length > MAX_ARMOR_BYTES) edgeFail('SSHSIG_INVALID', 'signature armor is too large');
  const lines = text.split('\n');
  if (lines.pop() !== '') edgeFail('SSHSIG_INVALID', 'signature armor does not end with a newline');
  if (lines[0] !== BEGIN) edgeFail('SSHSIG_INVALID', `signature does not start with '${BEGIN}' (not an SSH signature)`);
  if (lines[lines.length - 1] !== END || lines.length < 3) edgeFail('SSHSIG_INVALID', `signature does not end with '${END}'`);
  const body = lines.slice(1, -1);
  if (body.some((l) => !/^[A-Za-z0-9+/=]{1,76}$/.test(l))) edgeFail('SSHSIG_INVALID', 'signature armor has a line that is not base64');
  const b64 = body.join('');
  const blob = Buffer.from(b64, 'base64');
  if (blob.toString('base64') !== b64) edgeFail('SSHSIG_INVALID', 'signature armor is not canonical base64');
  return new Uint8Array(blob);
}

interface Sshsig {
  publicKey: SshPublicKey;
  namespace: string;
  hashAlgorithm: string;
  signature: Uint8Array;
}

/** PROTOCOL.sshsig §3: MAGIC, version 1, publickey, namespace, reserved, hash, signature. */
function parseSshsig(blob: Uint8Array): Sshsig {
  const r = new SshReader(blob, 'SSH signature');
  if (Buffer.from(r.raw(6)).toString('latin1') !== MAGIC) edgeFail('SSHSIG_INVALID', 'signature blob does not start with SSHSIG');
  const version = r.uint32();
  if (version !== 1) edgeFail('SSHSIG_INVALID', `sshsig version ${version} is not supported`);
  const publicKey = parseSshPublicKey(r.string());
  const namespace = r.text();
  if (r.string().length !== 0) edgeFail('SSHSIG_INVALID', 'sshsig reserved field is not empty');
  const hashAlgorithm = r.text();
  const signature = r.string();
  r.end();
  return { publicKey, namespace, hashAlgorithm, signature };
}

/** The SSH signature blob (string algorithm, string bytes) → bytes node:crypto verifies. */
function signatureBytes(key: SshPublicKey, sigBlob: Uint8Array): Uint8Array {
  const r = new SshReader(sigBlob, 'SSH signature value');
  const alg = r.text();
  const value = r.string();
  r.end();
  if (alg !== key.type) edgeFail('SSHSIG_INVALID', `signature algorithm '${alg}' does not match the ${key.type} key`);
  if (key.type === 'ssh-ed25519') {
    if (value.length !== 64) edgeFail('SSHSIG_INVALID', 'ssh-ed25519 signature is not 64 bytes');
    return value;
  }
  // ecdsa-sha2-nistp256 (RFC 5656 §3.1.2): string(mpint r, mpint s) → IEEE P1363 r‖s.
  const rs = new SshReader(value, 'ECDSA signature');
  const rr = rs.positiveMpint(32);
  const ss = rs.positiveMpint(32);
  rs.end();
  const out = new Uint8Array(64);
  out.set(rr, 32 - rr.length);
  out.set(ss, 64 - ss.length);
  return out;
}

function sshString(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + b.length);
  new DataView(out.buffer).setUint32(0, b.length);
  out.set(b, 4);
  return out;
}

/** PROTOCOL.sshsig §4: what is actually signed. */
function signedData(sig: Sshsig, message: Uint8Array): Uint8Array {
  const digest = createHash(sig.hashAlgorithm).update(message).digest();
  const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
  return Buffer.concat([ascii(MAGIC), sshString(ascii(sig.namespace)), sshString(new Uint8Array(0)), sshString(ascii(sig.hashAlgorithm)), sshString(digest)]);
}

/** An OpenSSH public key line "<type> <base64> [comment]" → key blob (no options prefix). */
export function parseAuthorizedKeyLine(line: string): Uint8Array {
  const m = /^(ssh-ed25519|ecdsa-sha2-nistp256|[a-z0-9@.-]{1,64}) ([A-Za-z0-9+/]+={0,2})(?: [^\r\n]*)?$/.exec(line.trim());
  if (m === null) edgeFail('SSHSIG_INVALID', 'an allowed key is not an OpenSSH public key line "<type> <base64> [comment]"');
  const blob = Buffer.from(m[2] as string, 'base64');
  if (blob.toString('base64') !== m[2]) edgeFail('SSHSIG_INVALID', 'an allowed key is not canonical base64');
  const key = parseSshPublicKey(new Uint8Array(blob));
  if (key.type !== m[1]) edgeFail('SSHSIG_INVALID', `an allowed key line says '${m[1]}' but holds a ${key.type} key`);
  return key.blob;
}

export function sshFingerprint(blob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * Verify the SSH signature on a raw commit object body (what `git cat-file commit` prints)
 * against the allowed public keys; returns the signer's fingerprint.
 */
export function verifySshCommitSignature(rawCommitObjectBody: Uint8Array, allowedPublicKeys: string[], opts: SshCommitSignatureOptions = {}): VerifiedSshSignature {
  if (rawCommitObjectBody.length > MAX_COMMIT_BYTES) edgeFail('SSHSIG_INVALID', 'commit object is too large');
  if (allowedPublicKeys.length === 0 || allowedPublicKeys.length > MAX_ALLOWED_KEYS) edgeFail('SSHSIG_INVALID', `between 1 and ${MAX_ALLOWED_KEYS} allowed keys are required`);
  const allowed = allowedPublicKeys.map(parseAuthorizedKeyLine);
  const { payload, signature } = splitSignedCommit(rawCommitObjectBody, opts.objectFormat ?? 'sha1');
  const sig = parseSshsig(decodeSshsigArmor(signature));
  if (sig.namespace !== NAMESPACE) edgeFail('SSHSIG_INVALID', `signature namespace is '${sig.namespace}', not '${NAMESPACE}'`);
  if (!HASHES.has(sig.hashAlgorithm)) edgeFail('SSHSIG_INVALID', `signature hash '${sig.hashAlgorithm}' is not sha256 or sha512`);
  const fingerprint = sshFingerprint(sig.publicKey.blob);
  if (!allowed.some((a) => Buffer.from(a).equals(sig.publicKey.blob))) edgeFail('SSHSIG_INVALID', `commit is signed by ${fingerprint}, which is not an allowed key`);
  const raw = signatureBytes(sig.publicKey, sig.signature);
  const data = signedData(sig, payload);
  const ok = sig.publicKey.type === 'ssh-ed25519'
    ? verifySignature(null, data, sig.publicKey.key, raw)
    : verifySignature('sha256', data, { key: sig.publicKey.key, dsaEncoding: 'ieee-p1363' }, raw);
  if (!ok) edgeFail('SSHSIG_INVALID', `the signature by ${fingerprint} does not verify over this commit`);
  return { fingerprint };
}
