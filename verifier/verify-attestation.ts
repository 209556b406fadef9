// The one place that composes the attestation checks, in the order that makes a refusal
// cheap and its reason precise: strict parsing (no crypto) → trust anchor → chain →
// validity at the chosen time → COSE signature → document age → debug mode and PCRs →
// the caller's bindings (nonce, user_data, public_key). Every step is recorded in
// `checks`; the first failure throws a VerificationError whose detail.checks lists the
// steps done so far, the failing one last.
import { checkDocumentInput, parseAttestationPayload } from './attestation.ts';
import { AWS_NITRO_ROOT_G1_DER, awsNitroRootG1 } from './aws-root.ts';
import { sha256Hex } from './digest.ts';
import { checkTrustAnchor, checkValidity, parseCachedCertificate, verifyCertificatePath, type CertificatePath } from './chain.ts';
import { parseCoseSign1, verifyCoseSign1Es384, type CoseSign1 } from './cose.ts';
import { CheckRecorder } from './checks.ts';
import { fail, isVerificationError, VerificationError, type VerifyErrorCode } from './errors.ts';
import { bytesEqualConstantTime, checkDebugMode, checkPcrs, isDebugDocument } from './pcr.ts';
import { checkDocumentTime, verificationInstant } from './time.ts';
import type { AttestationDocument, AttestationVerification, CheckResult, TrustInfo, VerifyAttestationOptions } from './types.ts';

function validateOptions(options: VerifyAttestationOptions): void {
  if (typeof options !== 'object' || options === null) throw new TypeError('options are required');
  if (options.pcrs !== 'skip' && (typeof options.pcrs !== 'object' || options.pcrs === null || !(options.pcrs.expected instanceof Map))) {
    throw new TypeError("options.pcrs must be { expected: Map<number, Uint8Array> } or 'skip'");
  }
  if (options.allowDebug !== undefined && typeof options.allowDebug !== 'boolean') throw new TypeError('options.allowDebug must be a boolean');
  for (const key of ['root', 'expectedNonce', 'expectedUserData', 'expectedPublicKey'] as const) {
    const v = options[key];
    if (v !== undefined && !(v instanceof Uint8Array)) throw new TypeError(`options.${key} must be a Uint8Array`);
  }
  const time = options.time;
  if (time !== undefined && !['now', 'document', 'fixed'].includes((time as { kind?: unknown }).kind as string)) {
    throw new TypeError("options.time.kind must be 'now', 'document' or 'fixed'");
  }
  if (time?.kind === 'now' && time.maxAgeMs !== undefined && !(typeof time.maxAgeMs === 'number' && time.maxAgeMs >= 0)) {
    throw new TypeError('options.time.maxAgeMs must be a non-negative number');
  }
}

/** The subject CN(s), from OpenSSL's one-attribute-per-line rendering. */
function subjectCommonName(info: { x509: { subject: string } }): string {
  return info.x509.subject.split('\n').filter((part) => part.startsWith('CN=')).map((part) => part.slice(3)).join(' ');
}

/** What a verification with this root (default: the embedded AWS root) trusts. */
export function trustAnchorInfo(root?: Uint8Array): TrustInfo {
  return trustInfo(root ?? awsNitroRootG1(), root === undefined);
}

function trustInfo(root: Uint8Array, isDefault: boolean): TrustInfo {
  const info = parseCachedCertificate(root, 'trust anchor');
  const rootSha256 = sha256Hex(root);
  const kind = isDefault || (AWS_NITRO_ROOT_G1_DER.length > 0 && Buffer.from(AWS_NITRO_ROOT_G1_DER).equals(root))
    ? 'aws'
    : subjectCommonName(info).includes('SIMULATED') ? 'simulated' : 'custom';
  return { kind, rootSha256, rootSubject: info.subjectText };
}

/**
 * A document that chains to a root labelled SIMULATED (the simulator's) is the common
 * mistake of checking a demo document against AWS: say so, and what to pass instead.
 */
function withSimulatedRootHint(e: unknown, first: Uint8Array | undefined): unknown {
  if (!isVerificationError(e) || e.code !== 'CHAIN_UNTRUSTED_ROOT' || first === undefined) return e;
  let cn: string;
  try {
    cn = subjectCommonName(parseCachedCertificate(first, 'cabundle[0]'));
  } catch {
    return e;
  }
  if (!cn.includes('SIMULATED')) return e;
  return new VerificationError(e.code, `${e.message}: the document chains to a SIMULATED root ("${cn}"), not to AWS hardware; ` +
    'to check a simulated document, pass that root as the trust anchor (CLI: --root simulated-nitro-root.pem, the file the simulator wrote)', e.detail);
}

function hex(bytes: Uint8Array | null): string {
  return bytes === null ? '(absent)' : Buffer.from(bytes).toString('hex');
}

function checkBinding(
  recorder: CheckRecorder,
  name: string,
  code: VerifyErrorCode,
  field: string,
  actual: Uint8Array | null,
  expected: Uint8Array | undefined,
): void {
  if (expected === undefined) {
    recorder.skip(name, 'no expectation given');
    return;
  }
  recorder.run(name, code, () => {
    if (actual === null || !bytesEqualConstantTime(actual, expected)) {
      fail(code, `${field} is ${hex(actual)}, expected ${hex(expected)}`);
    }
  }, () => `${field} matches`);
}

/**
 * Verify an AWS Nitro Enclaves attestation document (COSE_Sign1 bytes). Synchronous;
 * throws VerificationError on any failure (fail closed). See docs/errors.md for the codes.
 */
export function verifyAttestationDocument(bytes: Uint8Array, options: VerifyAttestationOptions): AttestationVerification {
  validateOptions(options);
  const time = options.time ?? { kind: 'now' };
  // Read the clock before looking at the document, so a broken clock is a TypeError
  // (a programming error), not a verdict about the document.
  const clockInstant = time.kind === 'document' ? undefined : verificationInstant(time, 0);
  const recorder = new CheckRecorder();

  const cose: CoseSign1 = recorder.run('cose-structure', 'MALFORMED_COSE', () => {
    checkDocumentInput(bytes);
    // Our own copy: nothing the caller does to its buffer afterwards can change the result.
    return parseCoseSign1(new Uint8Array(bytes));
  }, (c) => `COSE_Sign1${c.tagged ? ' (tag 18)' : ''}, ES384, ${c.payload.length}-byte payload`);

  const document: AttestationDocument = recorder.run('document-format', 'MALFORMED_DOCUMENT', () => parseAttestationPayload(cose.payload),
    (d) => `Nitro Enclave document, module ${d.moduleId}, ${d.pcrs.size} PCRs, ${d.cabundle.length} CA certificates`);

  const trust = recorder.run('trust-anchor', 'CHAIN_UNTRUSTED_ROOT', () => {
    const root = options.root ?? awsNitroRootG1();
    const info = trustInfo(root, options.root === undefined);
    try {
      checkTrustAnchor(document.cabundle, root);
    } catch (e) {
      throw withSimulatedRootHint(e, document.cabundle[0]);
    }
    return info;
  }, (t) => `cabundle[0] is the ${t.kind === 'aws' ? 'AWS Nitro root G1' : t.kind === 'simulated' ? 'SIMULATED root' : 'CUSTOM root'} (${t.rootSubject}, sha256 ${t.rootSha256})`);

  const path: CertificatePath = recorder.run('chain', 'CHAIN_INVALID', () => verifyCertificatePath(document.certificate, document.cabundle),
    (p) => `${p.certificates.length} certificates, signatures, names and CA constraints valid; leaf key P-384`);

  const checkedAt = recorder.run('certificate-validity', 'CERT_EXPIRED', () => {
    // The NSM signs only with a valid leaf: the path must be valid when the document says
    // it was made, and also at the verification time (docs/receipt.md, "Pinned rules").
    checkValidity(path, document.timestamp);
    const at = clockInstant ?? document.timestamp;
    checkValidity(path, at);
    return at;
  }, (at) => `all certificates valid at the document timestamp and at ${new Date(at).toISOString()} (${time.kind === 'document' ? 'document timestamp' : time.kind === 'fixed' ? 'fixed time' : 'now'})`);

  recorder.run('cose-signature', 'COSE_SIGNATURE_INVALID', () => {
    if (!verifyCoseSign1Es384(cose, path.leaf.publicKey)) {
      fail('COSE_SIGNATURE_INVALID', 'COSE_Sign1 signature does not verify with the leaf certificate key (ES384)');
    }
  }, () => 'ES384 signature by the leaf key over the original payload bytes');

  if (time.kind === 'document') {
    recorder.skip('document-time', 'historical audit at the document timestamp: age not checked');
  } else {
    recorder.run('document-time', 'DOCUMENT_FROM_FUTURE', () => checkDocumentTime(time, document.timestamp, checkedAt), (d) => d);
  }

  const debug = isDebugDocument(document);
  const pcrPolicy = options.pcrs;
  // Debug mode is refused whatever else is skipped: its memory is readable from the parent.
  const allowDebug = options.allowDebug === true || (pcrPolicy !== 'skip' && pcrPolicy.allowDebug === true);
  recorder.run('debug-mode', 'DEBUG_MODE', () => checkDebugMode(document, allowDebug), (d) => d);
  if (pcrPolicy === 'skip') {
    recorder.skip('pcrs', 'no PCR expectations: PCRs NOT checked');
  } else {
    recorder.run('pcrs', 'PCR_MISMATCH', () => checkPcrs(document, pcrPolicy), (d) => d);
  }

  checkBinding(recorder, 'nonce', 'NONCE_MISMATCH', 'nonce', document.nonce, options.expectedNonce);
  checkBinding(recorder, 'user-data', 'USER_DATA_MISMATCH', 'user_data', document.userData, options.expectedUserData);
  checkBinding(recorder, 'public-key', 'PUBLIC_KEY_MISMATCH', 'public_key', document.publicKey, options.expectedPublicKey);

  return { document, trust, checkedAt, checks: recorder.checks, pcrsUnchecked: pcrPolicy === 'skip', debug };
}
