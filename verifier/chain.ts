// The certificate path of an attestation document: leaf ← cabundle[n-1] ← … ← cabundle[0],
// where cabundle[0] must be byte-identical to the trust anchor (RFC 5280 §6.1, reduced to
// what NSM documents need: no policies, no name constraints, no revocation — AWS
// publishes no CRL for the short-lived leaf, and intermediates live days to weeks).
//
// Verified CA → CA links are cached by the two certificates' bytes, so a stream of
// documents from one enclave pays only for its leaf signature (and the COSE signature).
// The link cache holds signature results only; names and constraints are re-checked on
// every call (they are cheap and depend on the position in the path), and so is validity,
// which depends on the verification time. The leaf → issuer signature is never cached.
import { parseCertificate, KEY_USAGE_DIGITAL_SIGNATURE, KEY_USAGE_KEY_CERT_SIGN, type CertificateInfo } from './certificate.ts';
import { fail } from './errors.ts';

const MAX_CACHED_CERTIFICATES = 512;
const MAX_CACHED_LINKS = 1024;
const certificateCache = new Map<string, CertificateInfo>();
const verifiedLinks = new Set<string>();

function cacheKey(der: Uint8Array): string {
  return Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('latin1');
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/**
 * Parse a certificate once per process (bounded cache; oldest entries go first). Parsing
 * depends only on the bytes, so this is safe for leaves too: NSM reuses an enclave's leaf
 * for every document in its ~3-hour life. What is cached is the parse, never a verdict.
 */
export function parseCachedCertificate(der: Uint8Array, what: string): CertificateInfo {
  const key = cacheKey(der);
  const hit = certificateCache.get(key);
  if (hit !== undefined) return hit;
  // The cache keeps its own copy: callers' buffers may be reused.
  const info = parseCertificate(new Uint8Array(der), what);
  if (certificateCache.size >= MAX_CACHED_CERTIFICATES) {
    const oldest = certificateCache.keys().next().value;
    if (oldest !== undefined) certificateCache.delete(oldest);
  }
  certificateCache.set(key, info);
  return info;
}

/** Forget every cached certificate and link (tests; long-running processes rotating roots). */
export function clearChainCache(): void {
  certificateCache.clear();
  verifiedLinks.clear();
}

/** cabundle[0] must be the trust anchor itself, byte for byte. */
export function checkTrustAnchor(cabundle: readonly Uint8Array[], root: Uint8Array): void {
  const first = cabundle[0];
  if (first === undefined || !bytesEqual(first, root)) {
    fail('CHAIN_UNTRUSTED_ROOT', 'cabundle[0] is not the trusted root certificate');
  }
}

export interface CertificatePath {
  /** Root first, leaf last. */
  certificates: CertificateInfo[];
  leaf: CertificateInfo;
}

/**
 * Parse the path, then check names, CA constraints, the leaf key and every signature.
 * Does not check the trust anchor (checkTrustAnchor) or validity times (checkValidity).
 */
export function verifyCertificatePath(certificate: Uint8Array, cabundle: readonly Uint8Array[]): CertificatePath {
  const cas = cabundle.map((der, i) => parseCachedCertificate(der, `cabundle[${i}]`));
  const leaf = parseCachedCertificate(certificate, 'leaf certificate');
  const path = [...cas, leaf];
  const name = (i: number): string => (i === path.length - 1 ? 'leaf certificate' : `cabundle[${i}]`);

  // Cheapest first: names say whether the bundle is even in order.
  for (let i = 1; i < path.length; i++) {
    if (!bytesEqual((path[i] as CertificateInfo).issuer, (path[i - 1] as CertificateInfo).subject)) {
      fail('CHAIN_INVALID', `${name(i)}: issuer name does not match the subject of cabundle[${i - 1}]`);
    }
  }
  checkConstraints(cas, leaf);

  for (let i = 1; i < path.length; i++) {
    const child = path[i] as CertificateInfo;
    const parent = path[i - 1] as CertificateInfo;
    const linkKey = i === path.length - 1 ? undefined : `${cacheKey(child.der)}\u0000${cacheKey(parent.der)}`;
    if (linkKey !== undefined && verifiedLinks.has(linkKey)) continue;
    if (child.signatureAlgorithm === undefined) {
      fail('CHAIN_INVALID', `${name(i)}: signature algorithm is not ECDSA with SHA-256/384/512`);
    }
    if (!verifySignedBy(child, parent)) {
      fail('CHAIN_INVALID', `${name(i)}: signature does not verify with the key of cabundle[${i - 1}]`);
    }
    if (linkKey !== undefined) {
      if (verifiedLinks.size >= MAX_CACHED_LINKS) verifiedLinks.clear();
      verifiedLinks.add(linkKey);
    }
  }
  return { certificates: path, leaf };
}

/** basicConstraints, keyUsage and pathLenConstraint along the path; the leaf's key type. */
function checkConstraints(cas: readonly CertificateInfo[], leaf: CertificateInfo): void {
  cas.forEach((ca, i) => {
    const where = `cabundle[${i}] (${ca.subjectText})`;
    if (!ca.isCa) fail('CERT_CONSTRAINTS', `${where} is not a CA (basicConstraints cA is not true)`);
    if (ca.keyUsage === undefined || (ca.keyUsage & KEY_USAGE_KEY_CERT_SIGN) === 0) {
      fail('CERT_CONSTRAINTS', `${where} may not sign certificates (keyUsage lacks keyCertSign)`);
    }
    // pathLenConstraint counts the CA certificates that may follow this one (leaf excluded).
    const below = cas.length - 1 - i;
    if (ca.pathLenConstraint !== undefined && ca.pathLenConstraint < below) {
      fail('CERT_CONSTRAINTS', `${where} allows ${ca.pathLenConstraint} intermediate CA(s) below it; the path has ${below}`);
    }
  });
  if (leaf.isCa) fail('CERT_CONSTRAINTS', 'leaf certificate is a CA (basicConstraints cA is true)');
  if (leaf.keyUsage !== undefined && (leaf.keyUsage & KEY_USAGE_DIGITAL_SIGNATURE) === 0) {
    fail('CERT_CONSTRAINTS', 'leaf certificate may not make signatures (keyUsage lacks digitalSignature)');
  }
  const key = leaf.publicKey;
  const curve = key.asymmetricKeyType === 'ec' ? key.asymmetricKeyDetails?.namedCurve : undefined;
  if (curve !== 'secp384r1') {
    fail('LEAF_KEY_INVALID', `leaf key is ${key.asymmetricKeyType ?? 'unknown'}${curve === undefined ? '' : ` ${curve}`}, expected EC P-384`);
  }
}

function verifySignedBy(child: CertificateInfo, parent: CertificateInfo): boolean {
  try {
    return child.x509.verify(parent.publicKey);
  } catch {
    return false;
  }
}

/** Every certificate of the path must be within its validity window at `at` (ms). */
export function checkValidity(path: CertificatePath, at: number): void {
  const last = path.certificates.length - 1;
  path.certificates.forEach((cert, i) => {
    const name = i === last ? 'leaf certificate' : `cabundle[${i}]`;
    if (at < cert.notBefore) {
      fail('CERT_NOT_YET_VALID', `${name} is not valid before ${new Date(cert.notBefore).toISOString()} (checked at ${new Date(at).toISOString()})`);
    }
    if (at > cert.notAfter) {
      fail('CERT_EXPIRED', `${name} expired at ${new Date(cert.notAfter).toISOString()} (checked at ${new Date(at).toISOString()})`);
    }
  });
}
