// The pack itself, plugged into the server's PackHandler seam: read clef.yaml and the
// identity's SOPS files from the verified commit, unwrap each file's data key with KMS
// Decrypt + Recipient, decrypt and MAC-check, write the Clef artifact v1 exactly as
// `clef pack` does (DEK made here, wrapped with KMS Encrypt, no encryption context), sign it,
// then build the receipt (docs/receipt.md) and bind it to a fresh attestation document.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { EnclaveProtocolError } from './protocol.ts';
import type { PackHandler, PackInput } from './server.ts';
import { kmsClientFactory, RecipientKeyPool, RecipientSession, recipientDecrypt, KmsRecipientError, type EnclaveKmsConfig } from './kms.ts';
import { kmsUnwrapper } from './sops/unwrap.ts';
import { dedupKmsDecrypt, wallTimed } from './unwrap-pool.ts';
import { isSopsError } from './sops/errors.ts';
import { isClefError, ClefError } from './clef/errors.ts';
import { parseClefManifest, findIdentity, type ClefManifest } from './clef/manifest.ts';
import { resolveIdentitySecrets } from './clef/resolve.ts';
import { packArtifact } from './clef/pack.ts';
import { kmsDekWrapper, artifactEncryptionContext } from './clef/envelope.ts';
import { kmsEcdsaSigner } from './clef/signature.ts';
import { sdkKmsEncryptDek, sdkKmsSign } from './clef/kms-sdk.ts';
import { CmsError } from './cms.ts';
import { TunnelError } from './tunnel.ts';
import { buildReceiptStatement } from '../verifier/statement.ts';
import { assembleReceipt, receiptPublicKey, receiptUserData, signReceiptStatement } from '../verifier/receipt.ts';

export const CLEF_MANIFEST_PATH = 'clef.yaml';
const MAX_CLEF_YAML_BYTES = 1024 * 1024;

export interface PackServiceConfig {
  kms: EnclaveKmsConfig;
  /** Version of this build, recorded in every receipt. */
  builderVersion: string;
  /** Clock (ms); tests pin it. */
  now?: () => number;
  /** Time spent per phase of one pack (ms), for benchmarks and metrics. */
  observe?: (phases: PackPhases) => void;
}

/** Where a pack's time goes. `kms` includes the NSM attestations the Recipient calls need. */
export interface PackPhases {
  kms: number;
  /** SOPS parsing, data-key use, value decryption and MAC checks; artifact sealing. */
  crypto: number;
  /** Statement, DSSE signature and the receipt's attestation document. */
  receipt: number;
  total: number;
}

/** Wrap an async function so its time is added to `bucket.ms`. */
function timed<A extends unknown[], R>(bucket: { ms: number }, fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args) => {
    const t = performance.now();
    try {
      return await fn(...args);
    } finally {
      bucket.ms += performance.now() - t;
    }
  };
}

/** Pack options the host may pass (all optional; unknown ones are refused). */
interface PackOptions {
  repository: string;
  signingKeyArn: string | undefined;
  ttlSeconds: number | undefined;
  bindEncryptionContext: boolean;
}

function refuse(detail: string, message: string): never {
  throw new EnclaveProtocolError('PACK_REFUSED', message, detail);
}

function packOptions(raw: PackInput['options']): PackOptions {
  const known = new Set(['repository', 'signingKeyArn', 'ttlSeconds', 'bindEncryptionContext']);
  for (const k of Object.keys(raw)) if (!known.has(k)) refuse('UNKNOWN_OPTION', `unknown pack option '${k}'`);
  const repository = raw.repository ?? 'unspecified';
  const signing = raw.signingKeyArn;
  const ttl = raw.ttlSeconds;
  const bind = raw.bindEncryptionContext ?? false;
  if (typeof repository !== 'string' || repository.length === 0 || repository.length > 1024) refuse('BAD_OPTION', 'repository must be a string of 1 to 1024 characters');
  if (signing !== undefined && typeof signing !== 'string') refuse('BAD_OPTION', 'signingKeyArn must be a string');
  if (ttl !== undefined && (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl < 0)) refuse('BAD_OPTION', 'ttlSeconds must be a non-negative integer');
  if (typeof bind !== 'boolean') refuse('BAD_OPTION', 'bindEncryptionContext must be a boolean');
  return { repository, signingKeyArn: signing, ttlSeconds: ttl, bindEncryptionContext: bind };
}

function readClefManifest(input: PackInput): { manifest: ClefManifest; blob: string } {
  const file = input.tree.readFile(CLEF_MANIFEST_PATH);
  if (file === null) refuse('CLEF_YAML_MISSING', `the commit has no ${CLEF_MANIFEST_PATH} at the repository root`);
  if (file.content.length > MAX_CLEF_YAML_BYTES) refuse('CLEF_YAML_TOO_LARGE', `${CLEF_MANIFEST_PATH} is larger than ${MAX_CLEF_YAML_BYTES} bytes`);
  return { manifest: parseClefManifest(Buffer.from(file.content).toString('utf8')), blob: file.id };
}

/** Map failures from the layers below to refusals with a stable detail code and no secrets. */
function asRefusal(e: unknown): unknown {
  if (e instanceof EnclaveProtocolError) return e;
  if (isSopsError(e) || isClefError(e) || e instanceof CmsError || e instanceof KmsRecipientError || e instanceof TunnelError) {
    return new EnclaveProtocolError('PACK_REFUSED', (e as Error).message, (e as { code: string }).code);
  }
  // AWS SDK service errors: the exception name is the stable code (AccessDeniedException…).
  if (e instanceof Error && '$metadata' in e) {
    return new EnclaveProtocolError('PACK_REFUSED', `KMS refused: ${e.name}: ${e.message}`, `KMS_${e.name}`);
  }
  return e;
}

export function createPackHandler(config: PackServiceConfig): PackHandler {
  const now = config.now ?? Date.now;
  const recipientKeys = new RecipientKeyPool();
  return async (input, ctx) => {
    const opts = packOptions(input.options);
    const kms = kmsClientFactory(config.kms, input.credentials);
    const started = performance.now();
    const kmsTime = { ms: 0 };
    try {
      const { manifest, blob: clefYamlBlob } = readClefManifest(input);
      const { identity, config: target } = findIdentity(manifest, input.identity, input.environment);
      if ('kms' in target && target.kms.provider !== 'aws') {
        refuse('UNSUPPORTED_PROVIDER', `identity '${identity.name}' uses KMS provider '${target.kms.provider}'; the enclave supports aws`);
      }

      // SOPS files: KMS Decrypt + Recipient for every data key, MAC checked per file.
      const recipient = await RecipientSession.open(ctx.nsm, recipientKeys);
      const sopsKeys = new Set<string>();
      const sopsDecrypt = dedupKmsDecrypt(wallTimed(kmsTime, recipientDecrypt(kms.clientFor, recipient, sopsKeys)));
      const blobIds = new Map<string, string>();
      const resolved = await resolveIdentitySecrets({
        manifest,
        identity: input.identity,
        environment: input.environment,
        readFile: async (path) => {
          ctx.signal.throwIfAborted();
          const f = input.tree.readFile(path);
          if (f === null) return undefined;
          blobIds.set(path, f.id);
          return Buffer.from(f.content).toString('utf8');
        },
        unwrapper: kmsUnwrapper(sopsDecrypt),
        ...(config.kms.unwrapConcurrency === undefined ? {} : { concurrency: config.kms.unwrapConcurrency }),
      }).finally(() => sopsDecrypt.clear());
      ctx.signal.throwIfAborted();

      // The artifact, for the identity's recipient (age) or KMS envelope, signed when asked.
      const envelopeKey = 'kms' in target ? target.kms.keyId : null;
      const packed = await packArtifact({
        identity: input.identity,
        environment: input.environment,
        values: resolved.values,
        target:
          'recipient' in target
            ? { recipient: target.recipient }
            : {
                dekWrapper: kmsDekWrapper(
                  target.kms.keyId,
                  timed(kmsTime, sdkKmsEncryptDek(kms.clientFor)),
                  opts.bindEncryptionContext ? { encryptionContext: artifactEncryptionContext(input.identity, input.environment) } : {},
                ),
              },
        ...(opts.signingKeyArn === undefined ? {} : { signer: kmsEcdsaSigner(opts.signingKeyArn, timed(kmsTime, sdkKmsSign(kms.clientFor))) }),
        ...(opts.ttlSeconds === undefined ? {} : { ttlSeconds: opts.ttlSeconds }),
        now,
      });
      const artifact = Buffer.from(packed.json, 'utf8');
      const receiptStarted = performance.now();

      // The receipt: statement → DSSE (ephemeral P-384) → NSM document binding both + nonce.
      const statement = buildReceiptStatement({
        artifactName: `${input.identity}/${input.environment}.json`,
        source: {
          repository: opts.repository,
          commit: input.commit,
          objectFormat: input.objectFormat,
          clefYaml: clefYamlBlob,
          cells: resolved.files.map((f) => {
            const blob = blobIds.get(f.path);
            if (blob === undefined) throw new ClefError('PACK_FAILED', `internal: no blob id recorded for ${f.path}`);
            return { namespace: f.namespace, environment: f.environment, path: f.path, blob };
          }),
        },
        pack: {
          identity: input.identity,
          environment: input.environment,
          namespaces: [...identity.namespaces],
          revision: packed.artifact.revision,
          packedAt: packed.artifact.packedAt,
        },
        kms: {
          sopsDecryptKeys: [...sopsKeys].sort(),
          envelopeKey: packed.artifact.envelope?.keyId ?? envelopeKey,
          signingKey: opts.signingKeyArn ?? null,
        },
        artifactSha256: createHash('sha256').update(artifact).digest('hex'),
        builderVersion: config.builderVersion,
      });
      const { privateKey: receiptKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
      const envelope = signReceiptStatement(statement, receiptKey);
      const attestation = await ctx.nsm.attest({
        publicKey: receiptPublicKey(receiptKey),
        userData: receiptUserData(envelope),
        nonce: input.nonce.length > 0 ? input.nonce : null,
      });
      const receipt = assembleReceipt(envelope, attestation);
      const done = performance.now();
      config.observe?.({
        kms: kmsTime.ms,
        crypto: receiptStarted - started - kmsTime.ms,
        receipt: done - receiptStarted,
        total: done - started,
      });
      return { artifact, receipt };
    } catch (e) {
      throw asRefusal(e);
    } finally {
      kms.close();
    }
  };
}
