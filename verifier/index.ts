// Public API of the verifier: everything an auditor, the CLI, the enclave and the KMS
// emulator need to check attestation documents and receipts offline.
export { verifyAttestationDocument, trustAnchorInfo } from './verify-attestation.ts';
export {
  parseAttestationDocument,
  parseAttestationPayload,
  MAX_DOCUMENT_BYTES,
  MAX_OPTIONAL_FIELD_BYTES,
  type ParsedAttestation,
} from './attestation.ts';
export { AWS_NITRO_ROOT_G1_DER, AWS_NITRO_ROOT_G1_SHA256, pemCertificateToDer } from './aws-root.ts';
export { sha256Hex, sha384Hex } from './digest.ts';
export { pcrExtend, instanceIdPcr4, isDebugDocument } from './pcr.ts';
export { MAX_FUTURE_SKEW_MS } from './time.ts';
export { clearChainCache } from './chain.ts';
export { coseSign1SigStructure, type CoseSign1 } from './cose.ts';
export { VerificationError, isVerificationError, fail, VERIFY_ERROR_CODES, type VerifyErrorCode } from './errors.ts';
export { parseBuildManifest, manifestPcrs, serializeBuildManifest, BUILD_MANIFEST_SCHEMA, type BuildManifest } from './build-manifest.ts';
export type {
  AttestationDocument,
  AttestationVerification,
  CheckResult,
  CheckStatus,
  PcrExpectations,
  TrustInfo,
  VerificationTime,
  VerifyAttestationOptions,
} from './types.ts';
// Receipts (owned by the receipts part; re-exported so the public API is one module).
export {
  verifyReceipt,
  parseReceipt,
  assembleReceipt,
  receiptUserData,
  receiptPublicKey,
  signReceiptStatement,
  RECEIPT_SCHEMA,
  type ReceiptVerification,
  type VerifyReceiptOptions,
} from './receipt.ts';
export { dssePae, dsseKeyId, IN_TOTO_PAYLOAD_TYPE, type DsseEnvelope } from './dsse.ts';
export { buildReceiptStatement, parseStatement, RECEIPT_PREDICATE_TYPE, type ReceiptPredicateInput, type Statement } from './statement.ts';
// Pack authorization formats (issue 12): the trust policy measured into the image, and the
// canonical pack request whose hash a CI token's audience names.
export {
  parseTrustPolicy,
  validateTrustPolicy,
  canonicalTrustPolicyBytes,
  trustPolicyDigest,
  type TrustPolicy,
  type TrustedIssuer,
  type TrustedRepository,
  type EnvironmentPolicy,
  type SshSigner,
} from './trust-policy.ts';
export { canonicalPackRequestBytes, packRequestHash, packRequestAudience, type CanonicalPackRequest, type PackRequestOptions } from './pack-request.ts';
