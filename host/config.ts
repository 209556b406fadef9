// The host's configuration file (YAML or JSON), validated strictly: unknown keys are
// errors, file paths are resolved against the config file's directory, and the token and
// OIDC rules that scope who may pack what are data here, not code.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseBuildManifest, pemCertificateToDer, sha256Hex, type BuildManifest } from '../verifier/index.ts';
import { defaultEgressRules, parseEgressRule, type EgressRule } from './egress.ts';
import type { EnclaveEndpoint } from './enclave-client.ts';

export interface Scope {
  /** Identity names, or '*'. */
  identities: string[];
  /** Environment names, or '*'. */
  environments: string[];
}

export interface TokenRule extends Scope {
  name: string;
  /** Lowercase hex SHA-256 of the bearer token (the token itself is never stored). */
  sha256: string;
}

export interface OidcRule extends Scope {
  /** GitHub's immutable `repository_id` and `repository_owner_id` (names can be renamed or recreated). */
  repositoryId: string;
  repositoryOwnerId: string;
  /** `owner/name`: informational, for logs; never matched. */
  repository?: string;
  /**
   * Exact ref, or a prefix ending in '*': `refs/tags/v*` matches every tag starting with
   * "v" (refs/tags/vanything too). Absent = any ref. The host is only the first gate: the
   * enclave's trust policy decides with exact refs.
   */
  ref?: string;
  /** GitHub deployment environment claim, exact; absent = any. */
  environment?: string;
}

export interface GithubOidcConfig {
  issuer: string;
  audience: string;
  jwks: { url: string } | { file: string };
  rules: OidcRule[];
}

export type CredentialsConfig =
  | { source: 'imds'; endpoint: string }
  | { source: 'chain' }
  | { source: 'static'; accessKeyId: string; secretAccessKey: string; sessionToken?: string };

export interface HostLimits {
  maxBodyBytes: number;
  maxConcurrentPacks: number;
  maxQueuedPacks: number;
  /** Whole pack budget, queueing included (ms); the enclave gets what is left. */
  packDeadlineMs: number;
  describeDeadlineMs: number;
}

export interface HostConfig {
  listen: { host: string; port: number } | { socketPath: string };
  /** Serve HTTPS (PEM contents); absent = plain HTTP (behind a TLS-terminating load balancer). */
  tls?: { certPem: string; keyPem: string };
  enclave: EnclaveEndpoint;
  region: string;
  manifest: BuildManifest;
  /** DER trust anchor for /v1/ready; undefined = the AWS Nitro root G1. */
  attestationRoot?: Uint8Array;
  allowDebug: boolean;
  readyCacheMs: number;
  auth: { tokens: TokenRule[]; githubOidc?: GithubOidcConfig };
  /** Bearer token (its SHA-256) that /metrics requires; absent = unauthenticated (bind privately). */
  metricsTokenSha256?: string;
  /** How long one enclave health probe answers /v1/health (ms). */
  healthCacheMs: number;
  limits: HostLimits;
  egress?: { socketPath: string; allow: EgressRule[] };
  credentials: CredentialsConfig;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'silent';
  /** Where every returned receipt is kept (docs/receipt-store.md). */
  receiptStore?: { dir: string } | { s3: { bucket: string; prefix: string } };
}

export const DEFAULT_LIMITS: HostLimits = {
  maxBodyBytes: 48 * 1024 * 1024,
  maxConcurrentPacks: 2,
  maxQueuedPacks: 16,
  packDeadlineMs: 120_000,
  describeDeadlineMs: 10_000,
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function only(o: Obj, where: string, keys: string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new ConfigError(`${where}: unknown key '${k}'`);
}

function str(o: Obj, k: string, where: string): string {
  const v = o[k];
  if (typeof v !== 'string' || v === '') throw new ConfigError(`${where}.${k} must be a non-empty string`);
  return v;
}

function optStr(o: Obj, k: string, where: string): string | undefined {
  return o[k] === undefined ? undefined : str(o, k, where);
}

function int(o: Obj, k: string, where: string, min: number, max: number, dflt?: number): number {
  const v = o[k] ?? dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new ConfigError(`${where}.${k} must be an integer in [${min}, ${max}]`);
  return v;
}

function list(o: Obj, k: string, where: string): string[] {
  const v = o[k];
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' && x !== '')) {
    throw new ConfigError(`${where}.${k} must be a non-empty list of names (or ['*'])`);
  }
  return v as string[];
}

function endpoint(v: unknown, where: string, base: string): { host: string; port: number } | { socketPath: string } {
  if (!isObj(v)) throw new ConfigError(`${where} must be { socketPath } or { host, port }`);
  if (v.socketPath !== undefined) {
    only(v, where, ['socketPath']);
    return { socketPath: resolve(base, str(v, 'socketPath', where)) };
  }
  only(v, where, ['host', 'port']);
  return { host: str(v, 'host', where), port: int(v, 'port', where, 0, 65535) };
}

export function sha256HexOfToken(token: string): string {
  return sha256Hex(token);
}

function scope(o: Obj, where: string): Scope {
  return { identities: list(o, 'identities', where), environments: list(o, 'environments', where) };
}

function parseTokens(v: unknown, env: NodeJS.ProcessEnv): TokenRule[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new ConfigError('auth.tokens must be a list');
  return v.map((t, i) => {
    const where = `auth.tokens[${i}]`;
    if (!isObj(t)) throw new ConfigError(`${where} must be a map`);
    only(t, where, ['name', 'sha256', 'tokenEnv', 'identities', 'environments']);
    let sha256 = optStr(t, 'sha256', where);
    const tokenEnv = optStr(t, 'tokenEnv', where);
    if ((sha256 === undefined) === (tokenEnv === undefined)) throw new ConfigError(`${where}: give exactly one of sha256 or tokenEnv`);
    if (tokenEnv !== undefined) {
      const token = env[tokenEnv];
      if (token === undefined || token.length < 16) throw new ConfigError(`${where}: environment variable ${tokenEnv} must hold a token of at least 16 characters`);
      sha256 = sha256HexOfToken(token);
    }
    if (!/^[0-9a-f]{64}$/.test(sha256 as string)) throw new ConfigError(`${where}.sha256 must be 64 lowercase hex digits`);
    return { name: str(t, 'name', where), sha256: sha256 as string, ...scope(t, where) };
  });
}

function parseOidc(v: unknown, base: string): GithubOidcConfig | undefined {
  if (v === undefined) return undefined;
  const where = 'auth.githubOidc';
  if (!isObj(v)) throw new ConfigError(`${where} must be a map`);
  only(v, where, ['issuer', 'audience', 'jwksUrl', 'jwksFile', 'rules']);
  const jwksUrl = optStr(v, 'jwksUrl', where);
  const jwksFile = optStr(v, 'jwksFile', where);
  if ((jwksUrl === undefined) === (jwksFile === undefined)) throw new ConfigError(`${where}: give exactly one of jwksUrl or jwksFile`);
  if (!Array.isArray(v.rules) || v.rules.length === 0) throw new ConfigError(`${where}.rules must be a non-empty list`);
  const rules = v.rules.map((r, i): OidcRule => {
    const w = `${where}.rules[${i}]`;
    if (!isObj(r)) throw new ConfigError(`${w} must be a map`);
    only(r, w, ['repositoryId', 'repositoryOwnerId', 'repository', 'ref', 'environment', 'identities', 'environments']);
    const repositoryId = str(r, 'repositoryId', w);
    const repositoryOwnerId = str(r, 'repositoryOwnerId', w);
    if (!/^[0-9]{1,20}$/.test(repositoryId) || !/^[0-9]{1,20}$/.test(repositoryOwnerId)) {
      throw new ConfigError(`${w}: repositoryId and repositoryOwnerId are GitHub's numeric ids (strings of digits)`);
    }
    const rule: OidcRule = { repositoryId, repositoryOwnerId, ...scope(r, w) };
    const repository = optStr(r, 'repository', w);
    if (repository !== undefined) rule.repository = repository;
    const ref = optStr(r, 'ref', w);
    if (ref !== undefined) rule.ref = ref;
    const environment = optStr(r, 'environment', w);
    if (environment !== undefined) rule.environment = environment;
    return rule;
  });
  return {
    issuer: str(v, 'issuer', where),
    audience: str(v, 'audience', where),
    jwks: jwksUrl !== undefined ? { url: jwksUrl } : { file: resolve(base, jwksFile as string) },
    rules,
  };
}

function parseMetrics(v: unknown, env: NodeJS.ProcessEnv): string | undefined {
  if (v === undefined) return undefined;
  if (!isObj(v)) throw new ConfigError('metrics must be a map');
  only(v, 'metrics', ['tokenSha256', 'tokenEnv']);
  const direct = optStr(v, 'tokenSha256', 'metrics');
  const varName = optStr(v, 'tokenEnv', 'metrics');
  if ((direct === undefined) === (varName === undefined)) throw new ConfigError('metrics: give exactly one of tokenSha256 or tokenEnv');
  let sha256 = direct;
  if (varName !== undefined) {
    const token = env[varName];
    if (token === undefined || token === '') throw new ConfigError(`metrics.tokenEnv: ${varName} is not set`);
    sha256 = sha256HexOfToken(token);
  }
  if (!/^[0-9a-f]{64}$/.test(sha256 as string)) throw new ConfigError('metrics.tokenSha256 must be 64 lowercase hex digits');
  return sha256;
}

function parseCredentials(v: unknown): CredentialsConfig {
  if (v === undefined) return { source: 'imds', endpoint: 'http://169.254.169.254' };
  if (!isObj(v)) throw new ConfigError('credentials must be a map');
  const source = v.source;
  if (source === 'imds') {
    only(v, 'credentials', ['source', 'endpoint']);
    return { source, endpoint: optStr(v, 'endpoint', 'credentials') ?? 'http://169.254.169.254' };
  }
  if (source === 'chain') {
    only(v, 'credentials', ['source']);
    return { source };
  }
  if (source === 'static') {
    only(v, 'credentials', ['source', 'accessKeyId', 'secretAccessKey', 'sessionToken']);
    const c: CredentialsConfig = { source, accessKeyId: str(v, 'accessKeyId', 'credentials'), secretAccessKey: str(v, 'secretAccessKey', 'credentials') };
    const token = optStr(v, 'sessionToken', 'credentials');
    if (token !== undefined) c.sessionToken = token;
    return c;
  }
  throw new ConfigError("credentials.source must be 'imds', 'chain' or 'static'");
}

/** Parse config text. `base` resolves relative paths; `env` supplies tokenEnv values. */
const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const S3_PREFIX = /^(?:[A-Za-z0-9!_.*'()-]+\/)*$/;

function parseReceiptStore(v: unknown, base: string): NonNullable<HostConfig['receiptStore']> {
  if (!isObj(v)) throw new ConfigError('receiptStore must be { dir } or { s3: { bucket, prefix } }');
  only(v, 'receiptStore', ['dir', 's3']);
  if ((v.dir === undefined) === (v.s3 === undefined)) throw new ConfigError('receiptStore: set exactly one of dir and s3');
  if (v.dir !== undefined) return { dir: resolve(base, str(v, 'dir', 'receiptStore')) };
  if (!isObj(v.s3)) throw new ConfigError('receiptStore.s3 must be { bucket, prefix }');
  only(v.s3, 'receiptStore.s3', ['bucket', 'prefix']);
  const bucket = str(v.s3, 'bucket', 'receiptStore.s3');
  const prefix = optStr(v.s3, 'prefix', 'receiptStore.s3') ?? '';
  if (!S3_BUCKET.test(bucket)) throw new ConfigError(`receiptStore.s3.bucket '${bucket}' is not an S3 bucket name`);
  if (!S3_PREFIX.test(prefix)) throw new ConfigError(`receiptStore.s3.prefix '${prefix}' must be empty or end with "/" (safe characters only)`);
  return { s3: { bucket, prefix } };
}

export function parseHostConfig(text: string, base: string, env: NodeJS.ProcessEnv = process.env): HostConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`config is not YAML/JSON: ${(e as Error).message}`);
  }
  if (!isObj(raw)) throw new ConfigError('config must be a map');
  only(raw, 'config', ['listen', 'tls', 'enclave', 'region', 'manifest', 'attestationRoot', 'allowDebug', 'readyCacheMs', 'auth', 'metrics', 'healthCacheMs', 'limits', 'egress', 'credentials', 'logLevel', 'receiptStore']);
  const metricsTokenSha256 = parseMetrics(raw.metrics, env);
  const region = str(raw, 'region', 'config');
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) throw new ConfigError(`region '${region}' is not an AWS region name`);
  const manifestPath = resolve(base, str(raw, 'manifest', 'config'));
  let manifest: BuildManifest;
  try {
    manifest = parseBuildManifest(readFileSync(manifestPath));
  } catch (e) {
    throw new ConfigError(`manifest ${manifestPath}: ${(e as Error).message}`);
  }
  const auth = raw.auth;
  if (!isObj(auth)) throw new ConfigError('auth must be a map');
  only(auth, 'auth', ['tokens', 'githubOidc']);
  const tokens = parseTokens(auth.tokens, env);
  const githubOidc = parseOidc(auth.githubOidc, base);
  if (tokens.length === 0 && githubOidc === undefined) throw new ConfigError('auth: configure tokens and/or githubOidc; the host never runs unauthenticated');
  const limitsRaw = raw.limits ?? {};
  if (!isObj(limitsRaw)) throw new ConfigError('limits must be a map');
  only(limitsRaw, 'limits', Object.keys(DEFAULT_LIMITS));
  const limits: HostLimits = {
    maxBodyBytes: int(limitsRaw, 'maxBodyBytes', 'limits', 1024, 1024 ** 3, DEFAULT_LIMITS.maxBodyBytes),
    maxConcurrentPacks: int(limitsRaw, 'maxConcurrentPacks', 'limits', 1, 256, DEFAULT_LIMITS.maxConcurrentPacks),
    maxQueuedPacks: int(limitsRaw, 'maxQueuedPacks', 'limits', 0, 10_000, DEFAULT_LIMITS.maxQueuedPacks),
    packDeadlineMs: int(limitsRaw, 'packDeadlineMs', 'limits', 100, 600_000, DEFAULT_LIMITS.packDeadlineMs),
    describeDeadlineMs: int(limitsRaw, 'describeDeadlineMs', 'limits', 100, 600_000, DEFAULT_LIMITS.describeDeadlineMs),
  };
  let egress: HostConfig['egress'];
  if (raw.egress !== undefined) {
    if (!isObj(raw.egress)) throw new ConfigError('egress must be a map');
    only(raw.egress, 'egress', ['socketPath', 'allow']);
    const allowRaw = raw.egress.allow;
    let allow: EgressRule[];
    if (allowRaw === undefined) allow = defaultEgressRules(region);
    else if (Array.isArray(allowRaw) && allowRaw.every((x) => typeof x === 'string')) {
      try {
        allow = allowRaw.map((x: string) => parseEgressRule(x));
      } catch (e) {
        throw new ConfigError(`egress.allow: ${(e as Error).message}`);
      }
    } else throw new ConfigError('egress.allow must be a list of "host:port" strings');
    egress = { socketPath: resolve(base, str(raw.egress, 'socketPath', 'egress')), allow };
  }
  let attestationRoot: Uint8Array | undefined;
  const rootPath = optStr(raw, 'attestationRoot', 'config');
  if (rootPath !== undefined) {
    const der = pemCertificateToDer(readFileSync(resolve(base, rootPath), 'utf8'));
    if (der === undefined) throw new ConfigError(`attestationRoot ${rootPath} is not a PEM certificate`);
    attestationRoot = der;
  }
  const allowDebug = raw.allowDebug ?? false;
  if (typeof allowDebug !== 'boolean') throw new ConfigError('allowDebug must be a boolean');
  const logLevel = raw.logLevel ?? 'info';
  if (typeof logLevel !== 'string' || !['fatal', 'error', 'warn', 'info', 'debug', 'silent'].includes(logLevel)) throw new ConfigError('logLevel is invalid');
  const config: HostConfig = {
    listen: endpoint(raw.listen ?? { host: '127.0.0.1', port: 8080 }, 'listen', base),
    enclave: endpoint(raw.enclave, 'enclave', base),
    region,
    manifest,
    allowDebug,
    readyCacheMs: int(raw, 'readyCacheMs', 'config', 0, 3_600_000, 5_000),
    healthCacheMs: int(raw, 'healthCacheMs', 'config', 0, 3_600_000, 2_000),
    auth: githubOidc === undefined ? { tokens } : { tokens, githubOidc },
    limits,
    credentials: parseCredentials(raw.credentials),
    logLevel: logLevel as HostConfig['logLevel'],
  };
  if (attestationRoot !== undefined) config.attestationRoot = attestationRoot;
  if (raw.receiptStore !== undefined) config.receiptStore = parseReceiptStore(raw.receiptStore, base);
  if (metricsTokenSha256 !== undefined) config.metricsTokenSha256 = metricsTokenSha256;
  if (raw.tls !== undefined) {
    if (!isObj(raw.tls)) throw new ConfigError('tls must be { certFile, keyFile }');
    only(raw.tls, 'tls', ['certFile', 'keyFile']);
    const read = (k: string) => {
      const f = resolve(base, str(raw.tls as Obj, k, 'tls'));
      try {
        return readFileSync(f, 'utf8');
      } catch (e) {
        throw new ConfigError(`tls.${k} ${f}: ${(e as Error).message}`);
      }
    };
    config.tls = { certPem: read('certFile'), keyPem: read('keyFile') };
  }
  if (egress !== undefined) config.egress = egress;
  return config;
}

export function loadHostConfig(file: string, env: NodeJS.ProcessEnv = process.env): HostConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read ${file}: ${(e as Error).message}`);
  }
  return parseHostConfig(text, dirname(resolve(file)), env);
}
