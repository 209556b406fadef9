// The host's HTTP API for CI, as fastify plugins registered in one place (buildHostApp):
// request ids + error rendering, auth, the pack route (limits → credentials → enclave),
// health/ready, metrics. Every route declares its JSON schema; limits are data.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { EnclaveProtocolError, MAX_PROOF_TOKEN_BYTES, type EnclaveErrorCode, type PackProof } from '../enclave/protocol.ts';
import { manifestPcrs, verifyAttestationDocument, isVerificationError, type BuildManifest } from '../verifier/index.ts';
import { AuthError, authorize, createAuthenticator, type Authenticator, type Principal } from './auth.ts';
import type { HostConfig, HostLimits } from './config.ts';
import { CredentialsError, type CredentialSource } from './credentials.ts';
import { callEnclave, type EnclaveEndpoint } from './enclave-client.ts';
import { PackLimiter, QueueFullError, QueueTimeoutError } from './limits.ts';
import { Metrics } from './metrics.ts';
import { receiptStoreKey, type ReceiptStore } from './receipt-store.ts';

export interface HostDeps {
  enclave: EnclaveEndpoint;
  credentials: CredentialSource;
  metrics: Metrics;
  region: string;
  manifest: BuildManifest;
  attestationRoot?: Uint8Array;
  allowDebug: boolean;
  readyCacheMs: number;
  limits: HostLimits;
  auth: HostConfig['auth'];
  /** SHA-256 (hex) of the bearer token /metrics requires; undefined = open. */
  metricsTokenSha256?: string;
  /** How long a /v1/health answer about the enclave is reused (ms, default 2000). */
  healthCacheMs?: number;
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { certPem: string; keyPem: string };
  /** pino instance (secrets are redacted); undefined = no request logging. */
  logger?: Logger;
  /** Clock for OIDC expiry and attestation freshness (tests). */
  now?: () => number;
  /** Every receipt is stored here before it is returned; a failure refuses the pack (503). */
  receiptStore?: ReceiptStore;
}

/** Error body shape on every non-2xx answer. */
function errorBody(request: FastifyRequest, code: string, message: string, detail?: string) {
  return { error: detail === undefined ? { code, message } : { code, message, detail }, requestId: request.id };
}

const ERROR_SCHEMA = {
  type: 'object',
  properties: {
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, detail: { type: 'string' } }, required: ['code', 'message'] },
    requestId: { type: 'string' },
  },
  required: ['error'],
} as const;

/** Refusal details that mean "not authorized" (enclave/authz): reported as 403. */
const AUTHZ_DETAILS = new Set([
  'TRUST_POLICY_MISSING', 'PACK_UNAUTHORIZED', 'OIDC_INVALID', 'OIDC_EXPIRED', 'OIDC_REQUEST_MISMATCH', 'OIDC_ISSUER_UNTRUSTED',
  'COMMIT_NOT_TRUSTED', 'COMMIT_TOO_OLD', 'COMMIT_TIME_IN_FUTURE', 'REF_NOT_ALLOWED', 'EVENT_NOT_ALLOWED', 'RUN_ATTEMPT_EXCEEDED', 'RUNNER_NOT_ALLOWED',
  'WORKFLOW_NOT_ALLOWED', 'SSHSIG_INVALID', 'KEY_NOT_ALLOWED_FOR_ENVIRONMENT', 'SHA1_COLLISION',
]);

/** How an enclave refusal is reported to CI. */
export function statusForEnclaveError(code: EnclaveErrorCode, detail?: string): number {
  if (code === 'PACK_REFUSED' && detail !== undefined && AUTHZ_DETAILS.has(detail)) return 403;
  switch (code) {
    case 'ENCLAVE_UNREACHABLE':
    case 'CONNECTION_CLOSED':
    case 'NSM_UNAVAILABLE':
    case 'PACK_UNAVAILABLE':
    case 'TOO_MANY_REQUESTS':
      return 503;
    case 'DEADLINE_EXCEEDED':
      return 504;
    case 'REQUEST_TOO_LARGE':
    case 'FRAME_TOO_LARGE':
    case 'GIT_TOO_LARGE':
      return 413;
    case 'GIT_OBJECT_MISSING':
    case 'GIT_COMMIT_MISMATCH':
    case 'GIT_WRONG_TYPE':
    case 'GIT_MALFORMED':
    case 'GIT_PATH_INVALID':
    case 'MALFORMED_MESSAGE':
    case 'PACK_REFUSED':
      return 422;
    default:
      return 502;
  }
}

/**
 * KMS refusals carry the role ARN, the instance id and the key policy's wording; CI gets the
 * code and a short reason, the full text stays in the host log (issue 14 item 10).
 */
function messageForCi(e: EnclaveProtocolError, requestId: string): string {
  const d = e.detail ?? '';
  if (d === 'SOPS_NO_DATA_KEY' || d.startsWith('KMS_')) {
    return `KMS refused the enclave's request (${d}); the host log has the details under request id ${requestId}`;
  }
  return e.message;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

// --- plugins --------------------------------------------------------------------------

function basePlugin(app: FastifyInstance, deps: HostDeps): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    deps.metrics.inc('attested_pack_http_requests_total', { route, method: request.method, status: String(reply.statusCode) });
    deps.metrics.observe('attested_pack_http_request_duration_seconds', { route }, reply.elapsedTime / 1000);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorBody(request, 'NOT_FOUND', `no route ${request.method} ${request.url.slice(0, 200)}`));
  });
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof AuthError) {
      deps.metrics.inc('attested_pack_auth_failures_total', { code: err.code });
      if (err.status === 401) void reply.header('www-authenticate', `Bearer error="invalid_token"`);
      return reply.code(err.status).send(errorBody(request, err.code, err.message));
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send(errorBody(request, 'BODY_TOO_LARGE', `request body exceeds ${deps.limits.maxBodyBytes} bytes`));
    }
    if (err.validation !== undefined) return reply.code(400).send(errorBody(request, 'INVALID_REQUEST', err.message));
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(err.statusCode).send(errorBody(request, 'INVALID_REQUEST', err.message));
    }
    request.log.error({ err: { name: err.name, code: err.code } }, 'unhandled error');
    return reply.code(500).send(errorBody(request, 'INTERNAL', 'internal error in the host'));
  });
}

function authHook(authenticate: Authenticator) {
  return async (request: FastifyRequest): Promise<void> => {
    request.principal = await authenticate(request.headers.authorization);
  };
}

const NAME = '^[a-z0-9](?:[a-z0-9_-]{0,62})$';
const B64 = '^[A-Za-z0-9+/]*={0,2}$';

// One object schema, not oneOf: fastify's ajv removes additional properties while it tries
// each oneOf branch, which would strip `token` from an oidc proof. The enclave checks the
// exact shape ({kind:'oidc', token} or {kind:'sshsig'}) itself.
const PROOF = {
  type: 'object',
  additionalProperties: false,
  required: ['kind'],
  properties: {
    kind: { type: 'string', enum: ['oidc', 'sshsig'] },
    token: { type: 'string', minLength: 1, maxLength: MAX_PROOF_TOKEN_BYTES, pattern: '^[\\x21-\\x7e]+$' },
  },
} as const;

const PACK_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['identity', 'environment', 'nonce', 'commit', 'objectFormat', 'objects'],
  properties: {
    proof: PROOF,
    identity: { type: 'string', pattern: NAME },
    environment: { type: 'string', pattern: NAME },
    nonce: { type: 'string', pattern: B64, minLength: 22, maxLength: 684 },
    commit: { type: 'string', pattern: '^(?:[0-9a-f]{40}|[0-9a-f]{64})$' },
    objectFormat: { type: 'string', enum: ['sha1', 'sha256'] },
    objects: { type: 'array', maxItems: 100000, items: { type: 'string', pattern: B64 } },
    options: { type: 'object', maxProperties: 64, additionalProperties: { anyOf: [{ type: 'string', maxLength: 1024 }, { type: 'number' }, { type: 'boolean' }] } },
  },
} as const;

interface PackBody {
  identity: string;
  environment: string;
  nonce: string;
  commit: string;
  objectFormat: 'sha1' | 'sha256';
  objects: string[];
  options?: Record<string, string | number | boolean>;
  proof?: PackProof;
}

/** Keep the receipt before anyone gets the artifact (fail closed: false = do not return it). */
async function storeReceipt(store: ReceiptStore, receipt: Uint8Array, request: FastifyRequest): Promise<boolean> {
  try {
    const key = receiptStoreKey(receipt);
    await store.put(key, receipt);
    request.log.info({ receiptKey: key, store: store.description }, 'receipt stored');
    return true;
  } catch (e) {
    request.log.error({ store: store.description, reason: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }, 'receipt store unavailable: pack withheld');
    return false;
  }
}

function packPlugin(app: FastifyInstance, deps: HostDeps, authenticate: Authenticator): void {
  const limiter = new PackLimiter(deps.limits.maxConcurrentPacks, deps.limits.maxQueuedPacks);
  deps.metrics.gauge('attested_pack_packs_in_flight', 'Packs running in the enclave', () => limiter.running);
  deps.metrics.gauge('attested_pack_pack_queue_depth', 'Packs waiting for a slot', () => limiter.queued);

  app.post<{ Body: PackBody }>(
    '/v1/pack',
    {
      bodyLimit: deps.limits.maxBodyBytes,
      // Authenticate before the (possibly large) body is parsed.
      onRequest: authHook(authenticate),
      schema: {
        body: PACK_BODY,
        response: {
          200: {
            type: 'object',
            required: ['requestId', 'commit', 'artifact', 'receipt'],
            properties: { requestId: { type: 'string' }, commit: { type: 'string' }, artifact: { type: 'string' }, receipt: { type: 'string' } },
          },
          '4xx': ERROR_SCHEMA,
          '5xx': ERROR_SCHEMA,
        },
      },
    },
    async (request, reply) => {
      const started = Date.now();
      const body = request.body;
      const principal = request.principal as Principal;
      // The host's scopes are a first gate only; the enclave decides from the proof.
      authorize(principal, body.identity, body.environment);
      const options = body.options ?? {};
      // A GitHub Actions token that authenticated the call is also the pack's proof.
      const proof: PackProof | null = body.proof ?? (principal.token === undefined ? null : { kind: 'oidc', token: principal.token });
      const outcome = (o: string) => deps.metrics.inc('attested_pack_packs_total', { outcome: o });

      // Cancel queued or running work when the caller goes away or the deadline passes.
      const controller = new AbortController();
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) controller.abort(new EnclaveProtocolError('CONNECTION_CLOSED', 'the client went away'));
      });
      const deadline = setTimeout(
        () => controller.abort(new EnclaveProtocolError('DEADLINE_EXCEEDED', `pack did not complete within ${deps.limits.packDeadlineMs} ms`)),
        deps.limits.packDeadlineMs,
      );
      let release: (() => void) | undefined;
      try {
        try {
          release = await limiter.acquire(controller.signal);
        } catch (e) {
          if (e instanceof QueueFullError) {
            outcome('queue-full');
            return reply.code(429).header('retry-after', String(e.retryAfterSeconds)).send(errorBody(request, 'TOO_MANY_PACKS', e.message));
          }
          if (e instanceof QueueTimeoutError) {
            outcome('queue-timeout');
            return reply.code(504).send(errorBody(request, 'DEADLINE_EXCEEDED', 'no pack slot became free before the deadline'));
          }
          throw e;
        }
        let credentials;
        try {
          credentials = await deps.credentials.get();
        } catch (e) {
          outcome('no-credentials');
          request.log.error({ reason: (e as Error).message }, 'credentials unavailable');
          return reply.code(503).header('retry-after', '5').send(errorBody(request, 'CREDENTIALS_UNAVAILABLE', e instanceof CredentialsError ? e.message : 'cannot get AWS credentials'));
        }
        const remaining = deps.limits.packDeadlineMs - (Date.now() - started);
        if (remaining <= 0) {
          outcome('deadline');
          return reply.code(504).send(errorBody(request, 'DEADLINE_EXCEEDED', 'deadline passed before the enclave was called'));
        }
        try {
          const res = await callEnclave(
            deps.enclave,
            'pack',
            {
              identity: body.identity,
              environment: body.environment,
              nonce: Buffer.from(body.nonce, 'base64'),
              commit: body.commit,
              objectFormat: body.objectFormat,
              objects: body.objects.map((o) => Buffer.from(o, 'base64')),
              credentials,
              region: deps.region,
              options,
              proof,
            },
            { deadlineMs: remaining, signal: controller.signal, requestId: request.id },
          );
          if (deps.receiptStore !== undefined && !(await storeReceipt(deps.receiptStore, res.receipt, request))) {
            outcome('receipt-store-unavailable');
            return reply.code(503).header('retry-after', '5').send(errorBody(request, 'RECEIPT_STORE_UNAVAILABLE', 'the receipt could not be stored, so the pack is not returned; the host log has the details'));
          }
          outcome('ok');
          request.log.info({ identity: body.identity, environment: body.environment, commit: res.commit, principal: request.principal?.name }, 'packed');
          return {
            requestId: request.id,
            commit: res.commit,
            artifact: Buffer.from(res.artifact).toString('base64'),
            receipt: Buffer.from(res.receipt).toString('base64'),
          };
        } catch (e) {
          if (!(e instanceof EnclaveProtocolError)) throw e;
          deps.metrics.inc('attested_pack_enclave_errors_total', { code: e.code });
          outcome(e.code.toLowerCase());
          const status = statusForEnclaveError(e.code, e.detail);
          // The full reason (it may name the role, instance and key policy) stays in the host log.
          request.log.warn({ code: e.code, detail: e.detail, reason: e.message }, 'enclave refused the pack');
          if (status === 503) void reply.header('retry-after', '5');
          return reply.code(status).send(errorBody(request, e.code, messageForCi(e, request.id), e.detail));
        }
      } finally {
        clearTimeout(deadline);
        release?.();
      }
    },
  );
}

interface ReadyState {
  ready: boolean;
  checkedAt: string;
  nsm?: string;
  trust?: string;
  moduleId?: string;
  pcrs?: Record<string, string>;
  reason?: { code: string; message: string };
}

function statusPlugin(app: FastifyInstance, deps: HostDeps): void {
  const now = deps.now ?? Date.now;
  let cache: { state: ReadyState; at: number } | undefined;
  let inflight: Promise<ReadyState> | undefined;
  const expected = manifestPcrs(deps.manifest);

  const check = async (): Promise<ReadyState> => {
    const checkedAt = new Date(now()).toISOString();
    const nonce = randomBytes(32);
    try {
      const d = await callEnclave(deps.enclave, 'describe', { nonce }, { deadlineMs: deps.limits.describeDeadlineMs });
      const v = verifyAttestationDocument(d.attestation, {
        ...(deps.attestationRoot === undefined ? {} : { root: deps.attestationRoot }),
        pcrs: { expected, allowDebug: deps.allowDebug },
        expectedNonce: nonce,
        time: { kind: 'now', now, maxAgeMs: 5 * 60_000 },
      });
      const pcrs: Record<string, string> = {};
      for (const i of expected.keys()) pcrs[String(i)] = Buffer.from(v.document.pcrs.get(i) ?? []).toString('hex');
      return { ready: true, checkedAt, nsm: d.nsm, trust: v.trust.kind, moduleId: v.document.moduleId, pcrs };
    } catch (e) {
      if (e instanceof EnclaveProtocolError) {
        deps.metrics.inc('attested_pack_enclave_errors_total', { code: e.code });
        return { ready: false, checkedAt, reason: { code: e.code, message: e.message } };
      }
      if (isVerificationError(e)) return { ready: false, checkedAt, reason: { code: e.code, message: e.message } };
      return { ready: false, checkedAt, reason: { code: 'INTERNAL', message: 'readiness check failed' } };
    }
  };

  // One enclave round trip serves every /v1/health call for healthCacheMs: a flood of
  // health checks must not become a flood of enclave connections.
  const healthCacheMs = deps.healthCacheMs ?? 2000;
  let health: { at: number; value: Promise<Record<string, unknown>> } | undefined;
  const enclaveHealth = async (): Promise<Record<string, unknown>> => {
    try {
      const h = await callEnclave(deps.enclave, 'health', {}, { deadlineMs: 1000 });
      return { reachable: true, nsm: h.nsm, packHandler: h.packHandler };
    } catch (e) {
      return { reachable: false, code: e instanceof EnclaveProtocolError ? e.code : 'INTERNAL' };
    }
  };
  app.get('/v1/health', {
    schema: { response: { 200: { type: 'object', required: ['status'], properties: { status: { type: 'string' }, enclave: { type: 'object', additionalProperties: true } } } } },
  }, async () => {
    const t = Date.now();
    if (health === undefined || t - health.at >= healthCacheMs) health = { at: t, value: enclaveHealth() };
    return { status: 'ok', enclave: await health.value };
  });

  const readySchema = {
    type: 'object',
    required: ['ready', 'checkedAt'],
    properties: {
      ready: { type: 'boolean' },
      checkedAt: { type: 'string' },
      nsm: { type: 'string' },
      trust: { type: 'string' },
      moduleId: { type: 'string' },
      pcrs: { type: 'object', additionalProperties: { type: 'string' } },
      reason: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
    },
  } as const;
  app.get('/v1/ready', { schema: { response: { 200: readySchema, 503: readySchema } } }, async (_request, reply) => {
    if (cache !== undefined && cache.state.ready && now() - cache.at < deps.readyCacheMs) return cache.state;
    inflight ??= check().finally(() => {
      inflight = undefined;
    });
    const state = await inflight;
    cache = { state, at: now() };
    if (!state.ready) void reply.code(503);
    return state;
  });
}

function metricsPlugin(app: FastifyInstance, deps: HostDeps): void {
  const expected = deps.metricsTokenSha256 === undefined ? undefined : Buffer.from(deps.metricsTokenSha256, 'hex');
  app.get('/metrics', { schema: { response: { 200: { type: 'string' } } } }, async (request, reply: FastifyReply) => {
    if (expected !== undefined) {
      const m = /^Bearer ([\x21-\x7e]{1,1024})$/.exec(request.headers.authorization ?? '');
      const got = createHash('sha256').update(m?.[1] ?? '', 'utf8').digest();
      if (m === null || !timingSafeEqual(got, expected)) {
        void reply.header('www-authenticate', 'Bearer');
        return reply.code(401).type('text/plain').send('metrics need Authorization: Bearer <metrics token>\n');
      }
    }
    void reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8');
    return deps.metrics.render();
  });
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,64}$/;

/** The host application: every plugin registered here, nowhere else. */
export async function buildHostApp(deps: HostDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger === undefined ? { logger: false } : { loggerInstance: deps.logger }),
    ...(deps.tls === undefined ? {} : { https: { cert: deps.tls.certPem, key: deps.tls.keyPem, minVersion: 'TLSv1.2' as const } }),
    bodyLimit: deps.limits.maxBodyBytes,
    // Honour a caller's request id when it is well-formed (it is also the enclave request id).
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    requestTimeout: deps.limits.packDeadlineMs + 30_000,
    // Bodies are JSON with exact types: no coercion (ajv would turn 60 into "60" under anyOf).
    ajv: { customOptions: { coerceTypes: false } },
    return503OnClosing: true,
  }) as unknown as FastifyInstance;
  const authenticate = createAuthenticator(deps.auth, deps.now);
  basePlugin(app, deps);
  await app.register(async (scope) => packPlugin(scope, deps, authenticate));
  await app.register(async (scope) => statusPlugin(scope, deps));
  await app.register(async (scope) => metricsPlugin(scope, deps));
  return app;
}
