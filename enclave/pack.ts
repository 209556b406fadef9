// The pack itself, plugged into the server's PackHandler seam:
//   1. authorize: the caller's proof (OIDC token or SSH commit signature) is verified against
//      the trust policy measured into the image — only then is the commit's clef.yaml
//      authority (docs/pack-policy.md);
//   2. read clef.yaml and refuse any SOPS file encrypted with a KMS key the environment may
//      not use, before the first Decrypt;
//   3. unwrap each file's data key with KMS Decrypt + Recipient, decrypt and MAC-check;
//   4. write the Clef artifact v1 exactly as `clef pack` does (DEK made here, wrapped with KMS
//      Encrypt, no encryption context unless asked), sign it when asked;
//   5. build the receipt (docs/receipt.md) and bind it to a fresh attestation document.
import { EnclaveProtocolError } from './protocol.ts';
import type { PackContext, PackHandler, PackInput } from './server.ts';
import { kmsClientFactory, RecipientKeyPool, RecipientSession, recipientDecrypt, KmsRecipientError, type EnclaveKmsConfig } from './kms.ts';
import { kmsUnwrapper } from './sops/unwrap.ts';
import { dedupKmsDecrypt, wallTimed } from './unwrap-pool.ts';
import { isSopsError } from './sops/errors.ts';
import { isClefError, ClefError } from './clef/errors.ts';
import { parseClefManifest, findIdentity, type ClefManifest } from './clef/manifest.ts';
import { resolveIdentitySecrets, type ResolvedSecrets } from './clef/resolve.ts';
import { packArtifact } from './clef/pack.ts';
import { kmsDekWrapper, artifactEncryptionContext } from './clef/envelope.ts';
import { kmsEcdsaSigner } from './clef/signature.ts';
import { sdkKmsEncryptDek, sdkKmsSign } from './clef/kms-sdk.ts';
import { CmsError } from './cms.ts';
import { KmsCallLog, KmsCallLogError } from './kms-calls.ts';
import { TunnelError } from './tunnel.ts';
import { parsePackOptions, refuse } from './pack/options.ts';
import { checkFilesInScope, keysOf } from './pack/key-scope.ts';
import { signReceipt } from './pack/receipt.ts';
import type { PackAuthorizer, PackAuthorizationResult } from './pack/authorizer.ts';
import type { ReceiptPackOptions } from '../verifier/statement.ts';

export type { PackAuthorizer, PackAuthorizationResult } from './pack/authorizer.ts';

export const CLEF_MANIFEST_PATH = 'clef.yaml';
const MAX_CLEF_YAML_BYTES = 1024 * 1024;

export interface PackServiceConfig {
  kms: EnclaveKmsConfig;
  /** Decides whether this request may be packed at all (enclave/authz). Required: no default trusts anyone. */
  authorizer: PackAuthorizer;
  /** Version of this build, recorded in every receipt. */
  builderVersion: string;
  /** Clock (ms); tests pin it. */
  now?: () => number;
  /** Time spent per phase of one pack (ms), for benchmarks and metrics. */
  observe?: (phases: PackPhases) => void;
}

/** Where a pack's time goes. `kms` includes the NSM attestations the Recipient calls need. */
export interface PackPhases {
  /** Verifying the caller's proof (token signature, claims, policy). */
  authorize: number;
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

function readClefManifest(input: PackInput): { manifest: ClefManifest; blob: string } {
  const file = input.tree.readFile(CLEF_MANIFEST_PATH);
  if (file === null) refuse('CLEF_YAML_MISSING', `the commit has no ${CLEF_MANIFEST_PATH} at the repository root`);
  if (file.content.length > MAX_CLEF_YAML_BYTES) refuse('CLEF_YAML_TOO_LARGE', `${CLEF_MANIFEST_PATH} is larger than ${MAX_CLEF_YAML_BYTES} bytes`);
  return { manifest: parseClefManifest(Buffer.from(file.content).toString('utf8')), blob: file.id };
}

/** Map failures from the layers below to refusals with a stable detail code and no secrets. */
function asRefusal(e: unknown): unknown {
  if (e instanceof EnclaveProtocolError) return e;
  if (isSopsError(e) || isClefError(e) || e instanceof CmsError || e instanceof KmsRecipientError || e instanceof KmsCallLogError || e instanceof TunnelError) {
    return new EnclaveProtocolError('PACK_REFUSED', (e as Error).message, (e as { code: string }).code);
  }
  // AWS SDK service errors: the exception name is the stable code (AccessDeniedException…).
  // The message names the role and instance; it stays in the enclave.
  if (e instanceof Error && '$metadata' in e) {
    return new EnclaveProtocolError('PACK_REFUSED', `KMS refused the request (${e.name})`, `KMS_${e.name}`);
  }
  return e;
}

interface PackState {
  input: PackInput;
  ctx: PackContext;
  options: ReceiptPackOptions;
  auth: PackAuthorizationResult;
  kms: ReturnType<typeof kmsClientFactory>;
  kmsTime: { ms: number };
  unwrapConcurrency: number | undefined;
}

/** Steps 2–3: clef.yaml, the key scope check, then every SOPS file decrypted. */
async function resolveSecrets(s: PackState, recipient: RecipientSession) {
  const { input, ctx } = s;
  const clef = readClefManifest(input);
  const { identity, config: target } = findIdentity(clef.manifest, input.identity, input.environment);
  if ('kms' in target && target.kms.provider !== 'aws') {
    refuse('UNSUPPORTED_PROVIDER', `identity '${identity.name}' uses KMS provider '${target.kms.provider}'; the enclave supports aws`);
  }
  const sopsKeys = new Set<string>();
  const sopsDecrypt = dedupKmsDecrypt(wallTimed(s.kmsTime, recipientDecrypt(s.kms.clientFor, recipient, sopsKeys)));
  const blobIds = new Map<string, string>();
  const resolved = await resolveIdentitySecrets({
    manifest: clef.manifest,
    identity: input.identity,
    environment: input.environment,
    readFile: async (path) => {
      ctx.signal.throwIfAborted();
      const f = input.tree.readFile(path);
      if (f === null) return undefined;
      blobIds.set(path, f.id);
      // Bytes, not a lossy UTF-8 decode: the SOPS parser refuses what sops refuses.
      return f.content;
    },
    unwrapper: kmsUnwrapper(sopsDecrypt),
    // Before any Decrypt: every file's KMS keys must be the environment's (trust policy).
    beforeUnwrap: (files) => checkFilesInScope(keysOf(files), s.auth.allowedKmsKeyArns),
    ...(s.unwrapConcurrency === undefined ? {} : { concurrency: s.unwrapConcurrency }),
  }).finally(() => sopsDecrypt.clear());
  ctx.signal.throwIfAborted();
  return { clef, identity, target, resolved, sopsKeys, blobIds };
}

/** Step 4: the Clef artifact for the identity's recipient (age) or KMS envelope. */
async function sealArtifact(s: PackState, target: ReturnType<typeof findIdentity>['config'], resolved: ResolvedSecrets, now: () => number) {
  const { input, options } = s;
  return packArtifact({
    identity: input.identity,
    environment: input.environment,
    values: resolved.values,
    target:
      'recipient' in target
        ? { recipient: target.recipient }
        : {
            dekWrapper: kmsDekWrapper(
              target.kms.keyId,
              timed(s.kmsTime, sdkKmsEncryptDek(s.kms.clientFor)),
              options.bindEncryptionContext ? { encryptionContext: artifactEncryptionContext(input.identity, input.environment) } : {},
            ),
          },
    ...(options.signingKeyArn === null ? {} : { signer: kmsEcdsaSigner(options.signingKeyArn, timed(s.kmsTime, sdkKmsSign(s.kms.clientFor))) }),
    ...(options.ttlSeconds === null ? {} : { ttlSeconds: options.ttlSeconds }),
    now,
  });
}

export function createPackHandler(config: PackServiceConfig): PackHandler {
  const now = config.now ?? Date.now;
  const recipients = new RecipientKeyPool();
  return async (input, ctx) => {
    const started = performance.now();
    const options = parsePackOptions(input.options);
    // One RSA key and one fresh attestation document serve every Recipient call of this pack;
    // the same document's timestamp cross-checks the enclave clock the authorizer uses.
    const recipient = await RecipientSession.open(ctx.nsm, recipients);
    const authorizing = performance.now();
    const auth = await config.authorizer(input, ctx, options, recipient.attestationDocument());
    const authorized = performance.now();
    const kmsCalls = new KmsCallLog();
    const kms = kmsClientFactory(config.kms, input.credentials, kmsCalls);
    // The Recipient session's attestation counts as KMS work, as every Recipient document does.
    const s: PackState = { input, ctx, options, auth, kms, kmsTime: { ms: authorizing - started }, unwrapConcurrency: config.kms.unwrapConcurrency };
    try {
      const { clef, identity, target, resolved, sopsKeys, blobIds } = await resolveSecrets(s, recipient);
      const packed = await sealArtifact(s, target, resolved, now);
      const artifact = Buffer.from(packed.json, 'utf8');
      const receiptStarted = performance.now();
      const receipt = await signReceipt(ctx.nsm, {
        artifactName: `${input.identity}/${input.environment}.json`,
        authorization: auth.receipt,
        source: {
          repository: auth.receipt.repository,
          commit: input.commit,
          objectFormat: input.objectFormat,
          clefYaml: clef.blob,
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
          options,
        },
        kms: {
          sopsDecryptKeys: [...sopsKeys].sort(),
          envelopeKey: packed.artifact.envelope?.keyId ?? ('kms' in target ? target.kms.keyId : null),
          signingKey: options.signingKeyArn,
          calls: kmsCalls.calls,
        },
        builderVersion: config.builderVersion,
      }, artifact, input.nonce);
      const done = performance.now();
      config.observe?.({
        authorize: authorized - authorizing,
        kms: s.kmsTime.ms,
        crypto: receiptStarted - authorized - (s.kmsTime.ms - (authorizing - started)),
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
