// The emulator's TLS identity: a throw-away CA generated into the state directory (or
// passed in), and a server certificate for the loopback addresses it serves on. Clients
// trust it explicitly (SDK https.Agent({ ca }), SSL_CERT_FILE for sops); nothing trusts it
// by default.
// @peculiar/x509 (through tsyringe) needs the Reflect metadata API before it loads.
import 'reflect-metadata';
import { webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

export interface TlsMaterial {
  certPem: string;
  keyPem: string;
  caPem: string;
}

type CryptoKeyPair = webcrypto.CryptoKeyPair;
// @peculiar/x509 is typed against the DOM `Crypto`; node's webcrypto implements it. Passed
// per call so the library's global provider is left alone.
const x509Crypto = webcrypto as never;
const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function randomSerial(): string {
  // Positive 16-byte serial (top bit cleared).
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0] ?? 0) & 0x7f;
  return Buffer.from(b).toString('hex');
}

export interface GeneratedCa {
  caPem: string;
  caKeyPem: string;
}

const DEFAULT_CA_NAME = 'CN=attested-pack KMS emulator test CA (SIMULATED), O=attested-pack';
const DEFAULT_SERVER_NAME = 'CN=attested-pack KMS emulator (SIMULATED)';

/** A new CA (ECDSA P-256, 10 years), labelled as the emulator's unless named otherwise. */
export async function generateCa(now = Date.now(), subject = DEFAULT_CA_NAME): Promise<GeneratedCa> {
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 10 * 365 * 24 * 3600_000),
    signingAlgorithm: SIGN,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, x509Crypto),
    ],
  }, x509Crypto);
  const keyDer = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { caPem: cert.toString('pem') + '\n', caKeyPem: pem('PRIVATE KEY', keyDer) };
}

/** A server certificate issued by the CA for the given host names / IP addresses. */
export async function issueServerCertificate(ca: GeneratedCa, hosts: string[], now = Date.now(), subject = DEFAULT_SERVER_NAME): Promise<TlsMaterial> {
  const caCert = new x509.X509Certificate(ca.caPem);
  const caKey = await webcrypto.subtle.importKey(
    'pkcs8',
    Buffer.from(ca.caKeyPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64'),
    EC,
    false,
    ['sign'],
  );
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
  const names = [...new Set(hosts)].map((h) =>
    isIP(h) !== 0 ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h },
  );
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject,
    issuer: caCert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 2 * 365 * 24 * 3600_000),
    signingAlgorithm: SIGN,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false, x509Crypto),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, x509Crypto),
    ],
  }, x509Crypto);
  const keyDer = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: cert.toString('pem') + '\n', keyPem: pem('PRIVATE KEY', keyDer), caPem: ca.caPem };
}

/** True when the PEM certificate covers `host` and is valid for at least another day. */
export function certificateCovers(certPem: string, host: string, now = Date.now()): boolean {
  try {
    const c = new NodeX509(certPem);
    if (Date.parse(c.validTo) < now + 24 * 3600_000) return false;
    return (isIP(host) !== 0 ? c.checkIP(host) : c.checkHost(host)) !== undefined;
  } catch {
    return false;
  }
}
