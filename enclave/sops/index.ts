// SOPS files: parse, decrypt with MAC verification, encrypt. See README.md.
export { SopsError, isSopsError, SOPS_ERROR_CODES, type SopsErrorCode } from './errors.ts';
export { parseSops, formatForFileName, type ParsedSops, type ParseSopsOptions, type SopsFormat, type SopsWriteFormat } from './document.ts';
export { decryptSops, decryptSopsWithKey, type DecryptedSops } from './decrypt.ts';
export {
  encryptSops, ageKeyWrapper, kmsKeyWrapper, type EncryptSopsOptions, type KmsEncryptFn, type SopsKeyWrapper,
} from './encrypt.ts';
export {
  keyGroupUnwrapper, kmsOpener, ageOpener, ageUnwrapper, kmsUnwrapper, staticKeyUnwrapper, parseAgeIdentityFile,
  type DataKeyUnwrapper, type KmsDecryptFn, type MasterKeyOpener,
} from './unwrap.ts';
export type { SopsMetadata, MasterKey, AgeMasterKey, KmsMasterKey, KeyGroup, EncryptionRules } from './metadata.ts';
export { toPlain, clefValueString, type PlainValue } from './plain.ts';
export { DEFAULT_LIMITS, type SopsLimits, type SopsBranch, type SopsNode, type SopsLeaf } from './tree.ts';
