// The plain-use KMS flavour for artifacts, through @aws-sdk/client-kms, making exactly the
// calls Clef makes: Encrypt (SYMMETRIC_DEFAULT) to wrap the DEK, Decrypt with KeyId and
// algorithm to unwrap it, Sign (ECDSA_SHA_256, DIGEST) for the signature.
import { DecryptCommand, EncryptCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import { regionOfKmsArn, type KmsClientFor } from '../sops/kms-sdk.ts';
import type { KmsDecryptDekFn, KmsEncryptDekFn } from './envelope.ts';
import type { KmsSignFn } from './signature.ts';

function client(clientFor: KmsClientFor, keyId: string): KMSClient {
  return clientFor(regionOfKmsArn(keyId));
}

export function sdkKmsEncryptDek(clientFor: KmsClientFor): KmsEncryptDekFn {
  return async ({ keyId, plaintext, encryptionAlgorithm, encryptionContext }) => {
    const out = await client(clientFor, keyId).send(new EncryptCommand({
      KeyId: keyId, Plaintext: plaintext, EncryptionAlgorithm: encryptionAlgorithm,
      ...(encryptionContext === undefined ? {} : { EncryptionContext: encryptionContext }),
    }));
    if (out.CiphertextBlob === undefined) throw new Error('KMS Encrypt returned no ciphertext');
    return { ciphertextBlob: out.CiphertextBlob, ...(out.KeyId === undefined ? {} : { keyId: out.KeyId }) };
  };
}

export function sdkKmsDecryptDek(clientFor: KmsClientFor): KmsDecryptDekFn {
  return async ({ keyId, ciphertextBlob, encryptionAlgorithm, encryptionContext }) => {
    const out = await client(clientFor, keyId).send(new DecryptCommand({
      KeyId: keyId, CiphertextBlob: ciphertextBlob, EncryptionAlgorithm: encryptionAlgorithm as 'SYMMETRIC_DEFAULT',
      ...(encryptionContext === undefined ? {} : { EncryptionContext: encryptionContext }),
    }));
    if (out.Plaintext === undefined) throw new Error('KMS Decrypt returned no plaintext');
    return out.Plaintext;
  };
}

export function sdkKmsSign(clientFor: KmsClientFor): KmsSignFn {
  return async ({ keyId, digest, signingAlgorithm, messageType }) => {
    const out = await client(clientFor, keyId).send(new SignCommand({ KeyId: keyId, Message: digest, MessageType: messageType, SigningAlgorithm: signingAlgorithm }));
    if (out.Signature === undefined) throw new Error('KMS Sign returned no signature');
    return out.Signature;
  };
}
