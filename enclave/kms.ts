// KMS as the enclave uses it: @aws-sdk/client-kms whose connections go through the outbound
// tunnel with TLS terminating here, and — for every call that returns key material —
// `Recipient` with the pack's attestation document (one per pack, refreshed when old),
// the CMS reply opened with a per-pack RSA key that never leaves the enclave
// (NITRO-FACTS.md "KMS with attestation").
import { generateKeyPair, type KeyObject } from 'node:crypto';
import { DecryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { openCiphertextForRecipient } from './cms.ts';
import type { Nsm } from './nsm/nsm.ts';
import type { AwsCredentials } from './protocol.ts';
import type { KmsCallLog } from './kms-calls.ts';
import { regionOfKmsArn, type KmsClientFor } from './sops/kms-sdk.ts';
import type { KmsDecryptFn } from './sops/unwrap.ts';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createTunnelAgent } from './tunnel.ts';
import { DEFAULT_UNWRAP_CONCURRENCY } from './unwrap-pool.ts';

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
  /** SOPS data keys unwrapped at once per pack (default DEFAULT_UNWRAP_CONCURRENCY, 16). */
  unwrapConcurrency?: number;
}

/**
 * TLS connections to KMS are shared by the packs of one service (one pool per config): a
 * connection authenticates only the server (CA-pinned); every request carries its own pack's
 * SigV4 signature, and HTTP/1.1 has one request per connection at a time, so sharing mixes
 * nothing — and saves a TLS handshake per concurrent unwrap per pack.
 */
const sharedAgents = new WeakMap<EnclaveKmsConfig, ReturnType<typeof createTunnelAgent>>();

function agentFor(config: EnclaveKmsConfig): ReturnType<typeof createTunnelAgent> {
  let agent = sharedAgents.get(config);
  if (agent === undefined) {
    // Room for a few packs' concurrent unwraps (the host runs 2 packs at once by default).
    agent = createTunnelAgent({ socketPath: config.tunnelSocket, caPem: config.caBundlePem, maxSockets: 4 * (config.unwrapConcurrency ?? DEFAULT_UNWRAP_CONCURRENCY) });
    sharedAgents.set(config, agent);
  }
  return agent;
}

/**
 * One KMS client per region for one pack request (credentials are per request). `calls`,
 * when given, records every key-material call for the receipt (enclave/kms-calls.ts).
 */
export function kmsClientFactory(config: EnclaveKmsConfig, credentials: AwsCredentials, calls?: KmsCallLog): { clientFor: KmsClientFor; close(): void } {
  const clients = new Map<string, KMSClient>();
  const requestHandler = new NodeHttpHandler({ httpsAgent: agentFor(config), connectionTimeout: 10_000, requestTimeout: 30_000 });
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
      // Not destroy(): that would destroy the shared agent (NodeHttpHandler#destroy).
      clients.clear();
    },
  };
}

/** Close the shared KMS connections of a pack service's config (server shutdown, tests). */
export function closeKmsConnections(config: EnclaveKmsConfig): void {
  sharedAgents.get(config)?.destroy();
  sharedAgents.delete(config);
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

/** How long one Recipient document serves before the session asks the NSM for a new one. */
export const RECIPIENT_DOCUMENT_REFRESH_MS = 60_000;

export interface RecipientSessionOptions {
  /**
   * Age (session clock) after which the next Recipient call gets a new document. KMS does
   * not document a maximum age; our emulator accepts 5 minutes, and the leaf certificate
   * lives ~3 hours, so 60 s leaves a wide margin (docs/threat-model.md "One Recipient per pack").
   */
  refreshAfterMs?: number;
  /** Monotonic clock (ms); the enclave's wall clock is not trusted for this. */
  now?: () => number;
}

/**
 * One pack's Recipient: one RSA-2048 key pair (never leaves enclave memory) and one NSM
 * document binding its public key, shared by every Decrypt+Recipient call of the pack and
 * replaced when it gets older than `refreshAfterMs`. A session belongs to exactly one pack:
 * never cache or share it across packs.
 */
export class RecipientSession {
  readonly #nsm: Nsm;
  readonly #key: RecipientKey;
  readonly #refreshAfterMs: number;
  readonly #now: () => number;
  #document: Uint8Array;
  #issuedAt: number;
  #refreshing: Promise<Uint8Array> | undefined;
  #attestations = 1;

  private constructor(nsm: Nsm, key: RecipientKey, document: Uint8Array, issuedAt: number, opts: RecipientSessionOptions) {
    this.#nsm = nsm;
    this.#key = key;
    this.#document = document;
    this.#issuedAt = issuedAt;
    this.#refreshAfterMs = opts.refreshAfterMs ?? RECIPIENT_DOCUMENT_REFRESH_MS;
    this.#now = opts.now ?? (() => performance.now());
  }

  /** A fresh key (from the pool) and a fresh document for one pack. */
  static async open(nsm: Nsm, keys: RecipientKeyPool | RecipientKey, opts: RecipientSessionOptions = {}): Promise<RecipientSession> {
    const key = keys instanceof RecipientKeyPool ? await keys.take() : keys;
    const now = opts.now ?? (() => performance.now());
    const document = await nsm.attest({ publicKey: key.spki, userData: null, nonce: null });
    return new RecipientSession(nsm, key, document, now(), opts);
  }

  get privateKey(): KeyObject {
    return this.#key.privateKey;
  }

  /** DER SPKI of the session's RSA key (what every document's public_key holds). */
  get publicKeySpki(): Uint8Array {
    return Uint8Array.from(this.#key.spki);
  }

  /** Documents obtained so far (1 + refreshes): for tests and metrics. */
  get attestations(): number {
    return this.#attestations;
  }

  /** The current document's bytes (a copy): e.g. to cross-check the enclave clock. */
  attestationDocument(): Uint8Array {
    return Uint8Array.from(this.#document);
  }

  /** The document for the next Recipient call: the current one, or a new one when too old. */
  async document(): Promise<Uint8Array> {
    if (this.#now() - this.#issuedAt < this.#refreshAfterMs) return this.#document;
    // One refresh at a time: concurrent callers share it.
    this.#refreshing ??= this.#nsm
      .attest({ publicKey: this.#key.spki, userData: null, nonce: null })
      .then((doc) => {
        this.#document = doc;
        this.#issuedAt = this.#now();
        this.#attestations += 1;
        return doc;
      })
      .finally(() => {
        this.#refreshing = undefined;
      });
    return this.#refreshing;
  }
}

/**
 * KMS Decrypt with Recipient, shaped as the SOPS unwrapper's decrypt function. Every call
 * presents the pack's session document (its public_key is the session key) and opens the
 * CMS reply with the session key. `used` collects the key ARNs.
 */
export function recipientDecrypt(clientFor: KmsClientFor, session: RecipientSession, used: Set<string>): KmsDecryptFn {
  return async ({ keyArn, ciphertextBlob, encryptionContext }) => {
    const attestation = await session.document();
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
    return openCiphertextForRecipient(out.CiphertextForRecipient, session.privateKey);
  };
}
