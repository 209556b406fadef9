// KMS as the enclave uses it: @aws-sdk/client-kms whose connections go through the outbound
// tunnel with TLS terminating here, and — for every call that returns key material —
// `Recipient` with a fresh attestation document, the CMS reply opened with a per-pack RSA
// key that never leaves the enclave (NITRO-FACTS.md "KMS with attestation").
import { generateKeyPair, type KeyObject } from 'node:crypto';
import { DecryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { openCiphertextForRecipient } from './cms.ts';
import type { Nsm } from './nsm/nsm.ts';
import type { AwsCredentials } from './protocol.ts';
import type { KmsCallLog } from './kms-calls.ts';
import { regionOfKmsArn, type KmsClientFor } from './sops/kms-sdk.ts';
import type { KmsDecryptFn } from './sops/unwrap.ts';
import { createTunnelHttpHandler } from './tunnel.ts';

export interface EnclaveKmsConfig {
  /** Unix socket of the outbound tunnel (socat → vsock → host egress proxy). */
  tunnelSocket: string;
  /** PEM bundle the KMS server certificate must chain to (Amazon roots in production). */
  caBundlePem: string;
  /**
   * KMS endpoint per region. Default `https://kms.<region>.amazonaws.com`. Overriding it is
   * safe only because TLS is pinned to `caBundlePem`: the simulation points it at the emulator.
   */
  endpointFor?: (region: string) => string;
  /** SDK attempts per call (retries with backoff on throttling and transient errors). */
  maxAttempts?: number;
}

/**
 * One KMS client per region for one pack request (credentials are per request). `calls`,
 * when given, records every key-material call for the receipt (enclave/kms-calls.ts).
 */
export function kmsClientFactory(config: EnclaveKmsConfig, credentials: AwsCredentials, calls?: KmsCallLog): { clientFor: KmsClientFor; close(): void } {
  const clients = new Map<string, KMSClient>();
  const requestHandler = createTunnelHttpHandler({ socketPath: config.tunnelSocket, caPem: config.caBundlePem });
  const clientFor: KmsClientFor = (region) => {
    let c = clients.get(region);
    if (c === undefined) {
      c = new KMSClient({
        region,
        endpoint: config.endpointFor?.(region) ?? `https://kms.${region}.amazonaws.com`,
        credentials: {
          accessKeyId: credentials.accessKeyId,
          secretAccessKey: credentials.secretAccessKey,
          ...(credentials.sessionToken === undefined ? {} : { sessionToken: credentials.sessionToken }),
        },
        requestHandler,
        maxAttempts: config.maxAttempts ?? 5,
      });
      calls?.attach(c);
      clients.set(region, c);
    }
    return c;
  };
  return {
    clientFor,
    close() {
      for (const c of clients.values()) c.destroy();
      clients.clear();
    },
  };
}

/** The per-pack recipient key: RSA-2048, as KMS requires for Recipient. */
export interface RecipientKey {
  privateKey: KeyObject;
  spki: Uint8Array;
}

export function generateRecipientKey(): Promise<RecipientKey> {
  return new Promise((resolve, reject) => {
    generateKeyPair('rsa', { modulusLength: 2048 }, (err, publicKey, privateKey) => {
      if (err !== null) reject(err);
      else resolve({ privateKey, spki: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })) });
    });
  });
}

/**
 * RSA-2048 key generation takes 50–200 ms; the next pack's recipient key is made in the
 * background (libuv thread pool) while the enclave is idle. Each key serves one pack only
 * and never leaves enclave memory.
 */
export class RecipientKeyPool {
  #next: Promise<RecipientKey> | undefined;

  take(): Promise<RecipientKey> {
    const key = this.#next ?? generateRecipientKey();
    this.#next = generateRecipientKey();
    // A failed background generation surfaces on the next take(), not as an unhandled rejection.
    this.#next.catch(() => undefined);
    return key;
  }
}

export class KmsRecipientError extends Error {
  readonly code: 'KMS_RETURNED_PLAINTEXT' | 'KMS_NO_RECIPIENT_CIPHERTEXT';

  constructor(code: KmsRecipientError['code'], message: string) {
    super(message);
    this.name = 'KmsRecipientError';
    this.code = code;
  }
}

/**
 * KMS Decrypt with Recipient, shaped as the SOPS unwrapper's decrypt function. Each call
 * asks the NSM for a fresh document binding the recipient key. `used` collects the key ARNs.
 */
export function recipientDecrypt(clientFor: KmsClientFor, nsm: Nsm, recipient: RecipientKey, used: Set<string>): KmsDecryptFn {
  return async ({ keyArn, ciphertextBlob, encryptionContext }) => {
    const attestation = await nsm.attest({ publicKey: recipient.spki, userData: null, nonce: null });
    const out = await clientFor(regionOfKmsArn(keyArn)).send(
      new DecryptCommand({
        KeyId: keyArn,
        CiphertextBlob: ciphertextBlob,
        EncryptionContext: encryptionContext,
        Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: attestation },
      }),
    );
    // With a Recipient, KMS must not send the plaintext over the (host-relayed) wire.
    if (out.Plaintext !== undefined && out.Plaintext.length > 0) {
      throw new KmsRecipientError('KMS_RETURNED_PLAINTEXT', 'KMS answered a Recipient request with Plaintext');
    }
    if (out.CiphertextForRecipient === undefined) {
      throw new KmsRecipientError('KMS_NO_RECIPIENT_CIPHERTEXT', 'KMS returned no CiphertextForRecipient');
    }
    used.add(out.KeyId ?? keyArn);
    return openCiphertextForRecipient(out.CiphertextForRecipient, recipient.privateKey);
  };
}
