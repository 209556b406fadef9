// The plain-use KMS flavour: sops data keys through @aws-sdk/client-kms. The region comes
// from the key ARN, as in sops. The enclave decrypts with its own Decrypt+Recipient function
// (enclave/kms.ts) and takes only `regionOfKmsArn` from here; the SDK wrappers serve the
// demo's sample repository (sdkKmsEncrypt) and tests.
import { DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { KmsEncryptFn } from './encrypt.ts';
import type { KmsDecryptFn } from './unwrap.ts';

/** sops' ARN rule: `arn:aws…:kms:<region>:<digits>:(key|alias)/…`. */
const ARN = /^arn:aws[\w-]*:kms:(.+):[0-9]+:(key|alias)\/.+$/;

export function regionOfKmsArn(arn: string): string {
  const m = ARN.exec(arn);
  if (m?.[1] === undefined) throw new Error(`no valid ARN found in '${arn}'`);
  return m[1];
}

export type KmsClientFor = (region: string) => KMSClient;

export function sdkKmsDecrypt(clientFor: KmsClientFor): KmsDecryptFn {
  return async ({ keyArn, ciphertextBlob, encryptionContext }) => {
    const out = await clientFor(regionOfKmsArn(keyArn)).send(new DecryptCommand({ KeyId: keyArn, CiphertextBlob: ciphertextBlob, EncryptionContext: encryptionContext }));
    if (out.Plaintext === undefined) throw new Error('KMS Decrypt returned no plaintext');
    return out.Plaintext;
  };
}

export function sdkKmsEncrypt(clientFor: KmsClientFor): KmsEncryptFn {
  return async ({ keyArn, plaintext, encryptionContext }) => {
    const out = await clientFor(regionOfKmsArn(keyArn)).send(new EncryptCommand({ KeyId: keyArn, Plaintext: plaintext, EncryptionContext: encryptionContext }));
    if (out.CiphertextBlob === undefined) throw new Error('KMS Encrypt returned no ciphertext');
    return out.CiphertextBlob;
  };
}
