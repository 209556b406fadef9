// A SIMULATED OpenID Connect issuer shaped like GitHub Actions' (token.actions.
// githubusercontent.com): HTTPS on loopback with its own throw-away test CA (nothing trusts
// it unless a development trust policy pins it), discovery document, JWKS with rotatable
// keys, GitHub-shaped ID tokens, and the runner's token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL:
// GET ?audience=… with the job's bearer request token → {"value": "<jwt>"}).
// Its public name is a fixed host name whose certificate also covers 127.0.0.1, so the
// enclave reaches it through the host's egress allowlist (`<host>:443=127.0.0.1:<port>`)
// with SNI and certificate checks exactly as for a real issuer.
import { createHmac, generateKeyPairSync, randomBytes, sign, timingSafeEqual, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { generateCa, issueServerCertificate, type GeneratedCa } from './kms/tls.ts';
import { DEFAULT_GITHUB_JOB, githubClaims, type GithubJob } from './oidc-claims.ts';

export const SIMULATED_OIDC_HOST = 'oidc.simulated.attested-pack.test';
const CA_SUBJECT = 'CN=attested-pack OIDC issuer test CA (SIMULATED), O=attested-pack';
const SERVER_SUBJECT = 'CN=attested-pack OIDC issuer (SIMULATED)';
const DEFAULT_LIFETIME_SECONDS = 300;

export type SimulatedKeyAlg = 'RS256' | 'ES256';

interface SigningKey {
  alg: SimulatedKeyAlg;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export interface OidcIssuerOptions {
  /** Public host name (issuer URL https://<host>); default SIMULATED_OIDC_HOST. */
  host?: string;
  /** Loopback port to listen on (0 = ephemeral). */
  port?: number;
  /** Reuse a CA (e.g. one pinned in a development policy); default: a new one per start. */
  ca?: GeneratedCa;
  /** The job tokens from the request endpoint describe (defaults: DEFAULT_GITHUB_JOB). */
  currentJob?: Partial<GithubJob>;
  /** Bearer token the request endpoint requires; default random. */
  requestToken?: string;
  /** ms clock for iat/nbf/exp (default Date.now). */
  clock?: () => number;
}

export interface MintOptions {
  /** Header members merged over {alg, typ: "JWT", kid}; alg "none" and "HS256" make attack tokens. */
  header?: Record<string, unknown>;
  /** The job to describe (merged over the current job). */
  job?: Partial<GithubJob>;
  /** iat in unix seconds (default: the clock); nbf = iat, exp = iat + lifetime. */
  iat?: number;
  lifetimeSeconds?: number;
  /** Which published key signs (default: the current one). */
  kid?: string;
}

/** A canned JWKS response, for tests of fetchers that must refuse odd answers. */
export interface JwksOverride {
  status?: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

export interface SimulatedOidcIssuer {
  readonly host: string;
  readonly port: number;
  readonly caPem: string;
  readonly ca: GeneratedCa;
  /** https://<host> — the `iss` of every token. */
  readonly issuerUrl: string;
  readonly jwksUrl: string;
  /** The runner's ACTIONS_ID_TOKEN_REQUEST_URL (loopback address, as a runner would reach it). */
  readonly tokenRequestUrl: string;
  readonly requestToken: string;
  currentKid(): string;
  mintToken(claims?: Record<string, unknown>, opts?: MintOptions): string;
  /** Publish a new key and sign with it from now on; the old keys stay published. Returns its kid. */
  rotateKey(alg?: SimulatedKeyAlg): string;
  /** Stop publishing (and signing with) a key. */
  removeKey(kid: string): void;
  setCurrentJob(job: Partial<GithubJob>): void;
  overrideJwks(response: JwksOverride | null): void;
  /** How many times the JWKS was served (tests of caches). */
  jwksRequests(): number;
  close(): Promise<void>;
}

function newKey(alg: SimulatedKeyAlg): SigningKey {
  const pair = alg === 'RS256'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { alg, ...pair };
}

const b64url = (b: Uint8Array | string) => Buffer.from(b).toString('base64url');

/** JWS compact serialisation, honouring test overrides of `alg`. */
function signJwt(header: Record<string, unknown>, payload: Record<string, unknown>, key: SigningKey): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const alg = header['alg'];
  if (alg === 'none') return `${input}.`;
  // The classic algorithm-confusion attack: HMAC keyed with the issuer's *public* key.
  if (alg === 'HS256') return `${input}.${b64url(createHmac('sha256', key.publicKey.export({ type: 'spki', format: 'pem' })).update(input).digest())}`;
  const sig = key.alg === 'RS256'
    ? sign('sha256', Buffer.from(input), key.privateKey)
    : sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(sig)}`;
}

function publicJwk(kid: string, key: SigningKey): Record<string, unknown> {
  const jwk = key.publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  return { ...jwk, kid, alg: key.alg, use: 'sig' };
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function bearerMatches(req: IncomingMessage, expected: string): boolean {
  const got = Buffer.from(req.headers.authorization ?? '');
  const want = Buffer.from(`Bearer ${expected}`);
  return got.length === want.length && timingSafeEqual(got, want);
}

interface IssuerState {
  keys: Map<string, SigningKey>;
  current: string | undefined;
  job: GithubJob;
  jwksOverride: JwksOverride | null;
  jwksServed: number;
}

function discovery(issuerUrl: string, jwksUrl: string): Record<string, unknown> {
  return {
    issuer: issuerUrl,
    jwks_uri: jwksUrl,
    subject_types_supported: ['public', 'pairwise'],
    response_types_supported: ['id_token'],
    claims_supported: ['sub', 'aud', 'exp', 'iat', 'iss', 'jti', 'nbf', 'ref', 'sha', 'repository', 'repository_id', 'repository_owner', 'repository_owner_id', 'run_id', 'run_number', 'run_attempt', 'actor', 'actor_id', 'workflow', 'workflow_ref', 'workflow_sha', 'job_workflow_ref', 'job_workflow_sha', 'event_name', 'ref_type', 'ref_protected', 'environment', 'runner_environment', 'repository_visibility', 'head_ref', 'base_ref'],
    id_token_signing_alg_values_supported: ['RS256'],
    scopes_supported: ['openid'],
    simulated: 'SIMULATED issuer: trusted only by development trust policies',
  };
}

function serveJwks(res: ServerResponse, state: IssuerState): void {
  state.jwksServed++;
  const o = state.jwksOverride;
  if (o === null) return sendJson(res, 200, { keys: [...state.keys].map(([kid, k]) => publicJwk(kid, k)) });
  res.writeHead(o.status ?? 200, o.headers ?? { 'content-type': 'application/json' });
  res.end(o.body ?? '');
}

function startServer(tls: { certPem: string; keyPem: string }, route: (req: IncomingMessage, res: ServerResponse) => void, port: number): Promise<Server> {
  const server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    try {
      route(req, res);
    } catch (e) {
      sendJson(res, 500, { message: (e as Error).message });
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/** Start the SIMULATED issuer on 127.0.0.1. */
export async function startOidcIssuer(opts: OidcIssuerOptions = {}): Promise<SimulatedOidcIssuer> {
  const host = (opts.host ?? SIMULATED_OIDC_HOST).toLowerCase();
  const ca = opts.ca ?? (await generateCa(Date.now(), CA_SUBJECT));
  const tls = await issueServerCertificate(ca, [host, '127.0.0.1'], Date.now(), SERVER_SUBJECT);
  const clock = opts.clock ?? Date.now;
  const requestToken = opts.requestToken ?? randomBytes(24).toString('base64url');
  const issuerUrl = `https://${host}`;
  const jwksUrl = `${issuerUrl}/.well-known/jwks`;
  const state: IssuerState = { keys: new Map(), current: undefined, job: { ...DEFAULT_GITHUB_JOB, ...opts.currentJob }, jwksOverride: null, jwksServed: 0 };

  const rotateKey = (alg: SimulatedKeyAlg = 'RS256') => {
    const kid = `sim-${randomBytes(8).toString('hex')}`;
    state.keys.set(kid, newKey(alg));
    state.current = kid;
    return kid;
  };
  rotateKey();

  const mintToken = (claims: Record<string, unknown> = {}, o: MintOptions = {}): string => {
    const kid = o.kid ?? state.current;
    const key = kid === undefined ? undefined : state.keys.get(kid);
    if (kid === undefined || key === undefined) throw new Error(`the simulated issuer has no key '${kid ?? '(none)'}'`);
    const job = { ...state.job, ...o.job };
    const iat = o.iat ?? Math.floor(clock() / 1000);
    const time = { iat, nbf: iat, exp: iat + (o.lifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS) };
    const payload = githubClaims(job, { iss: issuerUrl, aud: `https://github.com/${job.repository_owner}`, jti: randomBytes(16).toString('hex'), ...time }, claims);
    // An override of `undefined` removes the claim (tests of required claims).
    for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
    return signJwt({ alg: key.alg, typ: 'JWT', kid, ...o.header }, payload, key);
  };

  const route = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', issuerUrl);
    if (req.method !== 'GET') return sendJson(res, 405, { message: 'only GET' });
    if (url.pathname === '/.well-known/openid-configuration') return sendJson(res, 200, discovery(issuerUrl, jwksUrl));
    if (url.pathname === '/.well-known/jwks') return serveJwks(res, state);
    if (url.pathname === '/token') {
      if (!bearerMatches(req, requestToken)) return sendJson(res, 401, { message: 'bad request token' });
      const audience = url.searchParams.get('audience');
      return sendJson(res, 200, { value: mintToken(audience === null ? {} : { aud: audience }) });
    }
    return sendJson(res, 404, { message: 'not found' });
  };

  const server = await startServer(tls, route, opts.port ?? 0);
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    host, port, ca, caPem: ca.caPem, issuerUrl, jwksUrl, requestToken,
    tokenRequestUrl: `https://127.0.0.1:${port}/token`,
    currentKid: () => state.current ?? '',
    mintToken,
    rotateKey,
    removeKey(kid) {
      state.keys.delete(kid);
      if (state.current === kid) state.current = undefined;
    },
    setCurrentJob(job) {
      state.job = { ...DEFAULT_GITHUB_JOB, ...job };
    },
    overrideJwks(response) {
      state.jwksOverride = response;
    },
    jwksRequests: () => state.jwksServed,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
