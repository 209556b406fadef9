// One X.509 certificate as the chain check needs it: names (as DER, for exact issuer ⇄
// subject chaining), validity instants, basicConstraints, keyUsage and the public key.
// OpenSSL (node:crypto X509Certificate) parses the certificate as a whole and verifies
// signatures; the small DER walk in der.ts reads what Node does not expose.
import { X509Certificate, type KeyObject } from 'node:crypto';
import {
  DER_BIT_STRING,
  DER_BOOLEAN,
  DER_INTEGER,
  DER_OCTET_STRING,
  DER_OID,
  DER_SEQUENCE,
  children,
  content,
  expectElement,
  readBoolean,
  readElement,
  readSmallUnsigned,
  readTime,
  toHex,
  whole,
} from './der.ts';
import { fail, isVerificationError } from './errors.ts';

/** keyUsage bits (RFC 5280 §4.2.1.3), as masks over the first two content bytes. */
export const KEY_USAGE_DIGITAL_SIGNATURE = 0x8000;
export const KEY_USAGE_KEY_CERT_SIGN = 0x0400;

const OID_BASIC_CONSTRAINTS = '551d13';
const OID_KEY_USAGE = '551d0f';
/** ECDSA signature algorithms (RFC 5758 §3.2) and the hash each uses. */
const ECDSA_ALGORITHMS: Readonly<Record<string, string>> = {
  '2a8648ce3d040302': 'ecdsa-with-SHA256',
  '2a8648ce3d040303': 'ecdsa-with-SHA384',
  '2a8648ce3d040304': 'ecdsa-with-SHA512',
};

export interface CertificateInfo {
  der: Uint8Array;
  x509: X509Certificate;
  publicKey: KeyObject;
  /** DER of the issuer and subject Names. */
  issuer: Uint8Array;
  subject: Uint8Array;
  /** Subject as one line, e.g. "C=US, O=Amazon, OU=AWS, CN=aws.nitro-enclaves". */
  subjectText: string;
  notBefore: number;
  notAfter: number;
  /** basicConstraints cA (false when the extension is absent). */
  isCa: boolean;
  pathLenConstraint: number | undefined;
  /** keyUsage bit mask, undefined when the extension is absent. */
  keyUsage: number | undefined;
  /** e.g. "ecdsa-with-SHA384"; undefined for any algorithm other than ECDSA with SHA-2. */
  signatureAlgorithm: string | undefined;
}

/** Parse a DER certificate strictly. Throws CERT_MALFORMED (with `what` in the message). */
export function parseCertificate(der: Uint8Array, what: string): CertificateInfo {
  try {
    return parse(der);
  } catch (e) {
    // An unsupported critical extension is a constraint failure, not a parse failure.
    if (isVerificationError(e)) fail(e.code === 'CERT_CONSTRAINTS' ? e.code : 'CERT_MALFORMED', `${what}: ${e.message}`);
    return fail('CERT_MALFORMED', `${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function parse(der: Uint8Array): CertificateInfo {
  const cert = expectElement(der, 0, der.length, DER_SEQUENCE, 'Certificate');
  if (cert.end !== der.length) fail('CERT_MALFORMED', 'trailing bytes after the certificate');
  const [tbs, outerAlg, signature, ...extra] = children(der, cert);
  if (tbs === undefined || outerAlg === undefined || signature === undefined || extra.length > 0) {
    fail('CERT_MALFORMED', 'Certificate must have tbsCertificate, signatureAlgorithm, signatureValue');
  }
  if (tbs.tag !== DER_SEQUENCE || outerAlg.tag !== DER_SEQUENCE || signature.tag !== DER_BIT_STRING) {
    fail('CERT_MALFORMED', 'Certificate fields have the wrong types');
  }
  const fields = children(der, tbs);
  let i = 0;
  // version [0] EXPLICIT; extensions require v3 (value 2).
  let version = 0;
  if (fields[i]?.tag === 0xa0) {
    const [v] = children(der, fields[i] as NonNullable<(typeof fields)[number]>);
    if (v === undefined) fail('CERT_MALFORMED', 'empty version');
    version = readSmallUnsigned(der, v);
    i += 1;
  }
  const serial = fields[i++];
  const innerAlg = fields[i++];
  const issuer = fields[i++];
  const validity = fields[i++];
  const subject = fields[i++];
  const spki = fields[i++];
  if (serial?.tag !== DER_INTEGER || innerAlg?.tag !== DER_SEQUENCE || issuer?.tag !== DER_SEQUENCE
    || validity?.tag !== DER_SEQUENCE || subject?.tag !== DER_SEQUENCE || spki?.tag !== DER_SEQUENCE) {
    return fail('CERT_MALFORMED', 'tbsCertificate fields have the wrong types');
  }
  // RFC 5280 §4.1.1.2: the inner and outer algorithm identifiers must be identical.
  if (toHex(whole(der, innerAlg)) !== toHex(whole(der, outerAlg))) {
    fail('CERT_MALFORMED', 'tbsCertificate.signature differs from signatureAlgorithm');
  }
  const [algOid] = children(der, outerAlg);
  if (algOid?.tag !== DER_OID) fail('CERT_MALFORMED', 'signature algorithm has no OID');
  const signatureAlgorithm = ECDSA_ALGORITHMS[toHex(content(der, algOid))];

  const [nb, na, ...moreTimes] = children(der, validity);
  if (nb === undefined || na === undefined || moreTimes.length > 0) fail('CERT_MALFORMED', 'validity must hold two times');

  let isCa = false;
  let pathLenConstraint: number | undefined;
  let keyUsage: number | undefined;
  // Optional issuerUniqueID [1], subjectUniqueID [2], then extensions [3].
  while (fields[i] !== undefined && (fields[i]?.tag === 0x81 || fields[i]?.tag === 0xa1 || fields[i]?.tag === 0x82 || fields[i]?.tag === 0xa2)) i += 1;
  const extsWrapper = fields[i];
  if (extsWrapper !== undefined) {
    if (extsWrapper.tag !== 0xa3) fail('CERT_MALFORMED', 'unexpected field after subjectPublicKeyInfo');
    if (version !== 2) fail('CERT_MALFORMED', 'extensions in a certificate that is not v3');
    i += 1;
    const [exts, ...rest] = children(der, extsWrapper);
    if (exts?.tag !== DER_SEQUENCE || rest.length > 0) fail('CERT_MALFORMED', 'extensions must be one SEQUENCE');
    const seen = new Set<string>();
    for (const ext of children(der, exts)) {
      const parts = children(der, ext);
      const oid = parts[0];
      if (ext.tag !== DER_SEQUENCE || oid?.tag !== DER_OID) fail('CERT_MALFORMED', 'bad extension');
      const oidHex = toHex(content(der, oid));
      if (seen.has(oidHex)) fail('CERT_MALFORMED', `duplicate extension ${oidHex}`);
      seen.add(oidHex);
      let critical = false;
      let valueEl = parts[1];
      if (valueEl?.tag === DER_BOOLEAN) {
        critical = readBoolean(der, valueEl);
        // DER: DEFAULT FALSE must be omitted, not encoded.
        if (!critical) fail('CERT_MALFORMED', 'extension critical=FALSE must be omitted in DER');
        valueEl = parts[2];
      }
      if (valueEl?.tag !== DER_OCTET_STRING || parts.length !== (critical ? 3 : 2)) fail('CERT_MALFORMED', 'bad extension value');
      const value = content(der, valueEl);
      if (oidHex === OID_BASIC_CONSTRAINTS) {
        ({ isCa, pathLenConstraint } = parseBasicConstraints(value));
      } else if (oidHex === OID_KEY_USAGE) {
        keyUsage = parseKeyUsage(value);
      } else if (critical) {
        // RFC 5280 §4.2: an unrecognised critical extension means the certificate is unusable.
        fail('CERT_CONSTRAINTS', `certificate has an unsupported critical extension (OID ${oidHex})`);
      }
    }
  }
  if (i !== fields.length) fail('CERT_MALFORMED', 'unexpected trailing fields in tbsCertificate');

  // OpenSSL parses the whole certificate (and the key) as a second, independent reader.
  const x509 = new X509Certificate(der);
  return {
    der,
    x509,
    publicKey: x509.publicKey,
    issuer: whole(der, issuer),
    subject: whole(der, subject),
    subjectText: x509.subject.split('\n').join(', '),
    notBefore: readTime(der, nb),
    notAfter: readTime(der, na),
    isCa,
    pathLenConstraint,
    keyUsage,
    signatureAlgorithm,
  };
}

function parseBasicConstraints(value: Uint8Array): { isCa: boolean; pathLenConstraint: number | undefined } {
  const seq = expectElement(value, 0, value.length, DER_SEQUENCE, 'basicConstraints');
  if (seq.end !== value.length) fail('CERT_MALFORMED', 'basicConstraints has trailing bytes');
  const parts = children(value, seq);
  let isCa = false;
  let pathLenConstraint: number | undefined;
  let k = 0;
  if (parts[k]?.tag === DER_BOOLEAN) {
    isCa = readBoolean(value, parts[k] as NonNullable<(typeof parts)[number]>);
    if (!isCa) fail('CERT_MALFORMED', 'basicConstraints cA=FALSE must be omitted in DER');
    k += 1;
  }
  if (parts[k]?.tag === DER_INTEGER) {
    pathLenConstraint = readSmallUnsigned(value, parts[k] as NonNullable<(typeof parts)[number]>);
    k += 1;
  }
  if (k !== parts.length) fail('CERT_MALFORMED', 'basicConstraints has unexpected fields');
  return { isCa, pathLenConstraint };
}

function parseKeyUsage(value: Uint8Array): number {
  const bits = readElement(value, 0, value.length);
  if (bits.tag !== DER_BIT_STRING || bits.end !== value.length) fail('CERT_MALFORMED', 'keyUsage must be a BIT STRING');
  const c = content(value, bits);
  if (c.length < 2 || c.length > 3 || (c[0] as number) > 7) fail('CERT_MALFORMED', 'keyUsage BIT STRING has a bad length');
  return (((c[1] as number) << 8) | (c[2] ?? 0)) & 0xff80;
}
