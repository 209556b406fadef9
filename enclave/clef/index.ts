// Clef: clef.yaml, artifact v1 (pack, read, sign, verify). See README.md.
export { ClefError, isClefError, CLEF_ERROR_CODES, type ClefErrorCode } from './errors.ts';
export {
  parseClefManifest, manifestMatrix, identityCells, findIdentity, ageRecipientProblem, awsKmsArnProblem,
  type ClefManifest, type ClefEnvironment, type ClefNamespace, type ServiceIdentity, type ServiceIdentityEnvironmentConfig, type MatrixCell,
} from './manifest.ts';
export {
  ciphertextHash, serializeArtifact, parseArtifactJson, parseRevision,
  type PackedArtifact, type KmsEnvelope, type SignatureAlgorithm, type RevokedArtifact,
} from './artifact.ts';
export {
  clefSignaturePayload, ed25519Signer, kmsEcdsaSigner, localEcdsaSigner, parseVerifyKey, verifyArtifactSignature,
  type ArtifactSigner, type KmsSignFn,
} from './signature.ts';
export {
  kmsDekWrapper, artifactEncryptionContext, sealWithDek, openWithDek,
  type DekWrapper, type WrappedDek, type KmsEncryptDekFn, type KmsDecryptDekFn,
} from './envelope.ts';
export { packArtifact, type PackArtifactInput, type PackedOutput, type SecretValues } from './pack.ts';
export { readArtifact, verifyArtifact, compareRevisions, RevisionTracker, type ReadArtifactOptions, type OpenedArtifact } from './reader.ts';
export { resolveIdentitySecrets, type ResolveInput, type ResolvedSecrets } from './resolve.ts';
