// The receipt: a DSSE-signed in-toto statement plus the attestation document that binds
// the signing key (public_key) and the signed bytes (user_data) to an enclave image.
// `verifyReceipt` composes every check of docs/receipt.md and never skips the PCRs; the
// builders below are what the enclave uses to make one. docs/receipt.md is the spec.
import { createHash, createPublicKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { manifestPcrs, type BuildManifest } from './build-manifest.ts';
import {
  decodeBase64Strict,
  dsseKeyId,
  dssePae,
  IN_TOTO_PAYLOAD_TYPE,
  p384PublicKeyFromSpki,
  parseDsseEnvelope,
  signDsseEnvelope,
  verifyDsseSignature,
  type DsseEnvelope,
  type ParsedDsseEnvelope,
} from './dsse.ts';
import { CheckRecorder } from './checks.ts';
import { sha256Hex } from './digest.ts';
import { fail, isVerificationError, VerificationError } from './errors.ts';
import { checkDevelopmentPolicy, checkReceiptExpectations, type ReceiptExpectations } from './receipt-expectations.ts';
import { parseStrictJson } from './strict-json.ts';
import { parseStatement, serializeStatement, type ReceiptPredicate, type Statement } from './statement.ts';
import type { AttestationVerification, CheckResult, VerificationTime } from './types.ts';
import { verifyAttestationDocument } from './verify-attestation.ts';

export const RECEIPT_SCHEMA = 'attested-pack/receipt/v1';
export const MAX_RECEIPT_BYTES = 1024 * 1024;
/** Matches the attestation verifier's own limit; real documents are about 4–5 KiB. */
export const MAX_RECEIPT_DOCUMENT_BYTES = 16 * 1024;

export interface ReceiptFile {
  schema: typeof RECEIPT_SCHEMA;
  dsse: DsseEnvelope;
  /** Base64 of the COSE_Sign1 bytes exactly as the NSM returned them. */
  attestationDocument: string;
}

export interface ParsedReceipt {
  dsse: ParsedDsseEnvelope;
  attestationDocument: Uint8Array;
}

export interface VerifyReceiptOptions {
  /** The published build manifest: the source of the expected PCRs (never skipped). */
  manifest: BuildManifest;
  /** The artifact file's bytes; when given its SHA-256 must be the statement's subject digest. */
  artifact?: Uint8Array;
  /** The nonce the caller sent with the pack request; when given the document must carry it. */
  expectedNonce?: Uint8Array;
  time?: VerificationTime;
  /** Trust anchor (DER) instead of the AWS Nitro root G1, e.g. the simulator's. */
  root?: Uint8Array;
  /** Accept a debug-mode enclave (PCR0/1/2 zero). Off by default. */
  allowDebug?: boolean;
  /** What the caller expects the receipt to say (repository, ref, commit, scope, options). */
  expect?: ReceiptExpectations;
}

export interface ReceiptVerification {
  statement: Statement;
  predicate: ReceiptPredicate;
  attestation: AttestationVerification;
  /** Every check in order: receipt structure, the attestation's own checks, bindings, DSSE, statement. */
  checks: CheckResult[];
  /** The document's nonce (null when the enclave was given none). */
  nonce: Uint8Array | null;
  artifactChecked: boolean;
  nonceChecked: boolean;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function malformed(message: string): never {
  fail('RECEIPT_MALFORMED', message);
}

/** Parse the receipt file's outer JSON (schema, members, base64). DSSE details are parsed separately. */
function parseReceiptFile(bytes: Uint8Array): { dsse: unknown; attestationDocument: Uint8Array } {
  if (!(bytes instanceof Uint8Array)) malformed('receipt must be bytes');
  if (bytes.length > MAX_RECEIPT_BYTES) fail('INPUT_TOO_LARGE', `receipt is ${bytes.length} bytes; the limit is ${MAX_RECEIPT_BYTES}`);
  let raw: unknown;
  try {
    // Strict: a duplicate member (a second "schema" or "payload") or a BOM is refused.
    raw = parseStrictJson(bytes);
  } catch (e) {
    malformed(`receipt is not strict UTF-8 JSON: ${(e as Error).message}`);
  }
  if (!isRecord(raw)) malformed('receipt must be a JSON object');
  if (raw.schema !== RECEIPT_SCHEMA) {
    malformed(raw.schema === undefined
      ? `this JSON has no "schema" member: it is not an attested-pack receipt (an artifact.json? pass receipt.json)`
      : `receipt schema is ${JSON.stringify(raw.schema)}; this verifier reads "${RECEIPT_SCHEMA}"`);
  }
  for (const k of Object.keys(raw)) if (!['schema', 'dsse', 'attestationDocument'].includes(k)) malformed(`receipt has an unknown member "${k}"`);
  if (!('dsse' in raw)) malformed('receipt lacks "dsse"');
  if (typeof raw.attestationDocument !== 'string') malformed('receipt.attestationDocument must be a base64 string');
  const attestationDocument = decodeBase64Strict(raw.attestationDocument, 'receipt.attestationDocument', 'RECEIPT_MALFORMED', MAX_RECEIPT_DOCUMENT_BYTES);
  return { dsse: raw.dsse, attestationDocument };
}

/** Strictly parse a receipt file without any cryptographic check. */
export function parseReceipt(bytes: Uint8Array): ParsedReceipt {
  const file = parseReceiptFile(bytes);
  return { dsse: parseDsseEnvelope(file.dsse), attestationDocument: file.attestationDocument };
}

function equalHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return a.length === b.length && x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Verify a receipt file against a published build manifest. Synchronous; throws a
 * VerificationError (fail closed) whose detail.checks lists the checks done so far.
 */
export function verifyReceipt(receiptBytes: Uint8Array, opts: VerifyReceiptOptions): ReceiptVerification {
  if (typeof opts !== 'object' || opts === null || typeof opts.manifest !== 'object' || opts.manifest === null) {
    throw new TypeError('verifyReceipt needs { manifest }: receipts are always checked against a build manifest');
  }
  const checks = new CheckRecorder();

  const file = checks.run('receipt-structure', 'RECEIPT_MALFORMED', () => parseReceiptFile(receiptBytes),
    (f) => `${RECEIPT_SCHEMA}, ${f.attestationDocument.length}-byte attestation document`);
  const dsse = checks.run('dsse-structure', 'DSSE_MALFORMED', () => parseDsseEnvelope(file.dsse),
    (d) => `${d.envelope.payloadType}, ${d.payload.length}-byte payload, one DER ECDSA signature`);

  const pae = dssePae(dsse.envelope.payloadType, dsse.payload);
  const expectedUserData = new Uint8Array(createHash('sha384').update(pae).digest());

  // The attestation verifier also checks the user_data and nonce bindings; public_key is
  // checked below against the DSSE key, so its "no expectation" entry is left out.
  let attestation: AttestationVerification;
  try {
    attestation = verifyAttestationDocument(file.attestationDocument, {
      time: opts.time ?? { kind: 'now' },
      ...(opts.root === undefined ? {} : { root: opts.root }),
      pcrs: { expected: manifestPcrs(opts.manifest), allowDebug: opts.allowDebug === true },
      expectedUserData,
      ...(opts.expectedNonce === undefined ? {} : { expectedNonce: opts.expectedNonce }),
    });
  } catch (e) {
    if (!isVerificationError(e)) throw e;
    const inner = Array.isArray(e.detail?.checks) ? (e.detail.checks as CheckResult[]) : [{ name: 'attestation', status: 'fail' as const, detail: e.message }];
    throw new VerificationError(e.code, e.message, { ...e.detail, checks: [...checks.checks, ...inner] });
  }
  checks.checks.push(...attestation.checks.filter((c) => !(c.name === 'public-key' && c.status === 'skipped')));
  const doc = attestation.document;

  const key: KeyObject = checks.run('public-key', 'PUBLIC_KEY_MISMATCH', () => {
    if (doc.publicKey === null) fail('PUBLIC_KEY_MISMATCH', 'the attestation document has no public_key; it does not vouch for any signing key');
    const k = p384PublicKeyFromSpki(doc.publicKey, 'PUBLIC_KEY_MISMATCH', 'attestation public_key');
    const id = dsseKeyId(doc.publicKey);
    if (!equalHex(id, dsse.keyid)) fail('PUBLIC_KEY_MISMATCH', `the DSSE keyid ${dsse.keyid} is not the attested public_key (sha256 ${id})`);
    return k;
  }, () => `public_key is the DSSE signing key (P-384, sha256 ${dsse.keyid})`);

  checks.run('dsse-signature', 'DSSE_SIGNATURE_INVALID', () => verifyDsseSignature(dsse, key),
    () => 'ECDSA P-384/SHA-384 over the DSSE PAE verifies with the attested key');

  const statement = checks.run('statement', 'STATEMENT_MALFORMED', () => parseStatement(dsse.payload),
    (s) => `in-toto Statement v1, ${s.predicateType}`);
  const predicate = statement.predicate;
  const subjectDigest = statement.subject[0].digest.sha256;

  checks.run('subject-digest', 'ARTIFACT_DIGEST_MISMATCH', () => {
    if (!equalHex(subjectDigest, predicate.artifact.sha256)) {
      fail('ARTIFACT_DIGEST_MISMATCH', `subject digest ${subjectDigest} differs from predicate.artifact.sha256 ${predicate.artifact.sha256}`);
    }
  }, () => `subject and predicate agree on sha256 ${subjectDigest}`);

  if (opts.artifact === undefined) {
    checks.skip('artifact-digest', 'no artifact file given: the artifact itself was NOT checked');
  } else {
    const artifact = opts.artifact;
    checks.run('artifact-digest', 'ARTIFACT_DIGEST_MISMATCH', () => {
      const actual = sha256Hex(artifact);
      if (!equalHex(actual, subjectDigest)) fail('ARTIFACT_DIGEST_MISMATCH', `artifact sha256 is ${actual}, the receipt says ${subjectDigest}`);
    }, () => `artifact file sha256 = ${subjectDigest}`);
  }

  const auth = predicate.authorization;
  checks.run('trust-policy', 'TRUST_POLICY_MISMATCH', () => {
    // The policy is in the image, so the PCRs already pin it; this names it for people and
    // refuses an enclave that reports another policy than the one the manifest measured.
    const tp = opts.manifest.trustPolicy;
    if (tp === null) fail('TRUST_POLICY_MISMATCH', 'the build manifest says the image carries no trust policy, yet the receipt names one');
    if (!equalHex(tp.sha384, auth.trustPolicySha384)) fail('TRUST_POLICY_MISMATCH', `the receipt's trust policy sha384 ${auth.trustPolicySha384} is not the manifest's ${tp.sha384}`);
    if (tp.development !== auth.development) fail('TRUST_POLICY_MISMATCH', 'the receipt and the manifest disagree on whether the trust policy is a DEVELOPMENT one');
  }, () => `sha384 ${auth.trustPolicySha384} = the build manifest's${auth.development ? ' (DEVELOPMENT policy)' : ''}`);
  checks.run('authorization', 'DEVELOPMENT_POLICY', () => {
    checkDevelopmentPolicy(auth.development, attestation.trust.kind);
  }, () => `${auth.method === 'oidc' ? `OIDC token from ${auth.issuer ?? '?'}` : `SSH signature ${auth.signerFingerprint ?? '?'}`} for ${auth.repository}${auth.ref === null ? '' : ` ${auth.ref}`}${auth.development ? ' — DEVELOPMENT trust policy' : ''}`);

  const expect = opts.expect;
  if (expect === undefined || Object.keys(expect).length === 0) checks.skip('expectations', 'no --repository/--ref/--commit expectations given');
  else {
    checks.run('expectations', 'EXPECTATION_MISMATCH', () => checkReceiptExpectations(predicate, expect),
      () => `receipt says what was expected (${Object.keys(expect).join(', ')})`);
  }

  return {
    statement,
    predicate,
    attestation,
    checks: checks.checks,
    nonce: doc.nonce,
    artifactChecked: opts.artifact !== undefined,
    nonceChecked: opts.expectedNonce !== undefined,
  };
}

// ---- Builders for the enclave -------------------------------------------------------------

/** Sign a statement as the receipt's DSSE envelope with the ephemeral P-384 key. */
export function signReceiptStatement(statement: Statement, privateKey: KeyObject): DsseEnvelope {
  return signDsseEnvelope(IN_TOTO_PAYLOAD_TYPE, serializeStatement(statement), privateKey);
}

/** DER SPKI of the receipt signing key: the attestation request's `public_key`. */
export function receiptPublicKey(privateKey: KeyObject): Uint8Array {
  return new Uint8Array(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }));
}

/** SHA-384 of the envelope's PAE bytes: the attestation request's `user_data`. */
export function receiptUserData(envelope: DsseEnvelope): Uint8Array {
  const parsed = parseDsseEnvelope(envelope);
  return new Uint8Array(createHash('sha384').update(dssePae(parsed.envelope.payloadType, parsed.payload)).digest());
}

/** The receipt file bytes: 2-space JSON with a trailing newline, members in documented order. */
export function assembleReceipt(envelope: DsseEnvelope, attestationDocument: Uint8Array): Uint8Array {
  const parsed = parseDsseEnvelope(envelope);
  if (attestationDocument.length === 0 || attestationDocument.length > MAX_RECEIPT_DOCUMENT_BYTES) {
    malformed(`attestation document must be 1 to ${MAX_RECEIPT_DOCUMENT_BYTES} bytes`);
  }
  const file: ReceiptFile = {
    schema: RECEIPT_SCHEMA,
    dsse: parsed.envelope,
    attestationDocument: Buffer.from(attestationDocument).toString('base64'),
  };
  return new TextEncoder().encode(`${JSON.stringify(file, null, 2)}\n`);
}
