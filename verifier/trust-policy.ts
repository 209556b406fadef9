// The pack trust policy: the small trust anchor measured into the image (docs/pack-policy.md).
// It holds only what the repository must not decide for itself — which OIDC issuers and
// repositories (by immutable id) are trusted, which exact refs/events may pack which
// environment, and which KMS keys each environment's files may use.
//
// JSON only (the verifier depends on Node's standard library alone); `build/` turns YAML
// into JSON first. Strict: unknown members, duplicate keys, BOM, wildcards, non-https URLs,
// alias ARNs and anything ambiguous are refused with TRUST_POLICY_INVALID. The parsed
// policy is normalised (defaults filled in), so its canonical bytes say everything the
// enclave will enforce, and the image carries exactly those bytes.
import { createHash } from 'node:crypto';
import { fail } from './errors.ts';
import { parseStrictJson, StrictJsonError } from './strict-json.ts';
import { parseCaBundlePem, parseSshPublicKey, parseHttpsUrl } from './trust-policy-values.ts';

export const MAX_TRUST_POLICY_BYTES = 256 * 1024;
export const MAX_ISSUERS = 16;
export const MAX_REPOSITORIES = 256;
export const MAX_ENVIRONMENTS = 64;
export const MAX_REFS = 64;
export const MAX_EVENTS = 16;
export const MAX_KMS_KEYS = 32;
export const MAX_SSH_SIGNERS = 32;
export const MAX_SIGNER_IDENTITIES = 256;

export type IssuerKind = 'github' | 'gitlab';
export type TokenAlgorithm = 'RS256' | 'ES256';
export const TOKEN_ALGORITHMS: readonly TokenAlgorithm[] = ['RS256', 'ES256'];

/** Events allowed when an environment lists none (GitHub `event_name` / GitLab `pipeline_source`). */
export const DEFAULT_EVENTS: Record<IssuerKind, readonly string[]> = {
  github: ['push', 'workflow_dispatch'],
  // GitLab has no workflow_dispatch; a pipeline run by hand from the UI is `web`.
  gitlab: ['push', 'web'],
};

export interface TrustedIssuer {
  /** [a-z0-9-]{1,32}; repositories name it. */
  id: string;
  kind: IssuerKind;
  /** Exact `iss` claim (https URL). */
  issuer: string;
  /** Required audience prefix: token `aud` = `<audience>:<pack request hash>`. */
  audience: string;
  algorithms: TokenAlgorithm[];
  jwksUrl: string;
  /** PEM roots the enclave trusts for jwksUrl's TLS. */
  caBundlePem: string;
  maxTokenLifetimeSeconds: number;
  clockSkewSeconds: number;
  jwksMaxAgeSeconds: number;
}

export interface EnvironmentPolicy {
  /** Exact refs (refs/heads/… or, with tagRulesExist, refs/tags/…). */
  refs: string[];
  tagRulesExist: boolean;
  events: string[];
  /** GitHub: `runner_environment` must be "github-hosted". */
  requireGithubHostedRunner: boolean;
  /** GitLab: `ref_protected` and `environment_protected` must be "true". */
  requireProtected: boolean;
  maxRunAttempt: number | null;
  maxCommitAgeSeconds: number | null;
  /** KMS key ARNs (never aliases) this environment's SOPS files may be encrypted with. */
  kmsKeyArns: string[];
}

export interface SshSigner {
  /** `<type> <base64>` as in authorized_keys (comment dropped). */
  publicKey: string;
  /** Identities this signer may pack; null = any (development policies only). */
  identities: string[] | null;
  environments: string[];
}

export interface TrustedRepository {
  /** Informational only; never used to match. */
  name: string;
  /** An issuers[].id. */
  issuer: string;
  github: { repositoryId: string; repositoryOwnerId: string } | null;
  gitlab: { projectId: string; namespaceId: string } | null;
  environments: Record<string, EnvironmentPolicy>;
  sshSigners: SshSigner[];
}

export interface TrustPolicy {
  version: 1;
  development: boolean;
  issuers: TrustedIssuer[];
  repositories: TrustedRepository[];
}

export interface ParseTrustPolicyOptions {
  /** Refuse bytes that are not exactly `canonicalTrustPolicyBytes` of the result (the enclave's reading). */
  requireCanonical?: boolean;
}

const ISSUER_ID = /^[a-z0-9-]{1,32}$/;
const AUDIENCE = /^[A-Za-z0-9._~/-]{1,128}$/;
const DECIMAL_ID = /^[1-9][0-9]{0,19}$/;
const REPO_NAME = /^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)+$/;
const CLEF_NAME = /^[a-z][a-z0-9_-]{0,63}$/;
const IDENTITY = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const EVENT = /^[a-z][a-z_]{0,63}$/;
// A KMS *key* ARN: UUID key id or multi-Region `mrk-` id. Aliases are refused — an alias can
// be re-pointed after the image is built, and SOPS metadata names the key ARN anyway.
const KMS_KEY_ARN = /^arn:aws(?:-cn|-us-gov|-iso|-iso-b)?:kms:[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}:[0-9]{12}:key\/(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;
// Exact git ref names (git check-ref-format, minus anything glob-like).
const REF = /^refs\/(?:heads|tags)\/[A-Za-z0-9._\/-]{1,240}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function bad(where: string, message: string): never {
  fail('TRUST_POLICY_INVALID', `trust policy: ${where} ${message}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function object(v: unknown, required: readonly string[], optional: readonly string[], where: string): Record<string, unknown> {
  if (!isRecord(v)) bad(where, 'must be an object');
  for (const k of Object.keys(v)) if (!required.includes(k) && !optional.includes(k)) bad(where, `has an unknown member "${k.slice(0, 64)}"`);
  for (const k of required) if (!(k in v)) bad(where, `lacks "${k}"`);
  return v;
}

function text(v: unknown, where: string, max: number, pattern?: RegExp): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) bad(where, `must be a string of 1 to ${max} characters`);
  if (CONTROL.test(v)) bad(where, 'must not contain control characters');
  if (pattern !== undefined && !pattern.test(v)) bad(where, `has the wrong format (${pattern.source.slice(0, 80)})`);
  return v;
}

function array(v: unknown, where: string, min: number, max: number): unknown[] {
  if (!Array.isArray(v) || v.length < min || v.length > max) bad(where, `must be an array of ${min} to ${max} elements`);
  return v;
}

function strings(v: unknown, where: string, min: number, max: number, itemMax: number, pattern?: RegExp): string[] {
  const out = array(v, where, min, max).map((s, i) => text(s, `${where}[${i}]`, itemMax, pattern));
  if (new Set(out).size !== out.length) bad(where, 'must not repeat an element');
  return out;
}

function bool(v: unknown, where: string): boolean {
  if (typeof v !== 'boolean') bad(where, 'must be true or false');
  return v;
}

function int(v: unknown, where: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) bad(where, `must be an integer from ${min} to ${max}`);
  return v;
}

function optional<T>(v: unknown, parse: (v: unknown) => T, dflt: T): T {
  return v === undefined || v === null ? dflt : parse(v);
}

function parseIssuer(v: unknown, where: string): TrustedIssuer {
  const o = object(v, ['id', 'kind', 'issuer', 'audience', 'algorithms', 'jwksUrl', 'caBundlePem', 'maxTokenLifetimeSeconds', 'clockSkewSeconds', 'jwksMaxAgeSeconds'], [], where);
  if (o.kind !== 'github' && o.kind !== 'gitlab') bad(`${where}.kind`, 'must be "github" or "gitlab"');
  const algorithms = strings(o.algorithms, `${where}.algorithms`, 1, 2, 8);
  for (const a of algorithms) if (!(TOKEN_ALGORITHMS as readonly string[]).includes(a)) bad(`${where}.algorithms`, `may contain only ${TOKEN_ALGORITHMS.join(', ')} (never none or HS*), not "${a}"`);
  const issuer = text(o.issuer, `${where}.issuer`, 2048);
  const jwksUrl = text(o.jwksUrl, `${where}.jwksUrl`, 2048);
  try {
    parseHttpsUrl(issuer, false);
    parseHttpsUrl(jwksUrl, true);
  } catch (e) {
    bad(where, (e as Error).message);
  }
  if (typeof o.caBundlePem !== 'string') bad(`${where}.caBundlePem`, 'must be a string');
  return {
    id: text(o.id, `${where}.id`, 32, ISSUER_ID),
    kind: o.kind,
    issuer,
    audience: text(o.audience, `${where}.audience`, 128, AUDIENCE),
    algorithms: algorithms as TokenAlgorithm[],
    jwksUrl,
    caBundlePem: caBundle(o.caBundlePem, `${where}.caBundlePem`),
    maxTokenLifetimeSeconds: int(o.maxTokenLifetimeSeconds, `${where}.maxTokenLifetimeSeconds`, 1, 86400),
    clockSkewSeconds: int(o.clockSkewSeconds, `${where}.clockSkewSeconds`, 0, 300),
    jwksMaxAgeSeconds: int(o.jwksMaxAgeSeconds, `${where}.jwksMaxAgeSeconds`, 60, 86400),
  };
}

function caBundle(pem: string, where: string): string {
  try {
    return parseCaBundlePem(pem);
  } catch (e) {
    bad(where, (e as Error).message);
  }
}

function parseEnvironment(v: unknown, where: string, kind: IssuerKind, development: boolean): EnvironmentPolicy {
  const o = object(v, ['refs', 'kmsKeyArns'], ['tagRulesExist', 'events', 'requireGithubHostedRunner', 'requireProtected', 'maxRunAttempt', 'maxCommitAgeSeconds'], where);
  const tagRulesExist = optional(o.tagRulesExist, (x) => bool(x, `${where}.tagRulesExist`), false);
  const refs = strings(o.refs, `${where}.refs`, 1, MAX_REFS, 255);
  for (const r of refs) {
    // Exact names only: a glob (or anything git would refuse) could match a ref an attacker creates.
    if (!REF.test(r) || r.includes('..') || r.includes('//') || r.endsWith('/') || r.endsWith('.') || r.endsWith('.lock') || r.includes('/.')) {
      bad(`${where}.refs`, `"${r.slice(0, 100)}" is not an exact refs/heads/… or refs/tags/… name (no wildcards)`);
    }
    if (r.startsWith('refs/tags/') && !tagRulesExist) bad(`${where}.refs`, `"${r.slice(0, 100)}" is a tag; allowed only with "tagRulesExist": true (tags are not protected by branch rules)`);
  }
  const events = optional(o.events, (x) => strings(x, `${where}.events`, 1, MAX_EVENTS, 64, EVENT), [...DEFAULT_EVENTS[kind]]);
  const requireGithubHostedRunner = optional(o.requireGithubHostedRunner, (x) => bool(x, `${where}.requireGithubHostedRunner`), false);
  if (requireGithubHostedRunner && kind !== 'github') bad(`${where}.requireGithubHostedRunner`, 'applies to GitHub issuers only');
  const requireProtected = optional(o.requireProtected, (x) => bool(x, `${where}.requireProtected`), kind === 'gitlab');
  if (requireProtected && kind !== 'gitlab') bad(`${where}.requireProtected`, 'applies to GitLab issuers only');
  // Unprotected GitLab refs can be pushed by any developer: allowed for demos only.
  if (kind === 'gitlab' && !requireProtected && !development) bad(`${where}.requireProtected`, 'may be false only in a development policy');
  // GitLab tokens carry no run attempt; a limit there would look enforced and not be.
  if (kind !== 'github' && o.maxRunAttempt !== undefined && o.maxRunAttempt !== null) bad(`${where}.maxRunAttempt`, 'applies to GitHub issuers only');
  return {
    refs,
    tagRulesExist,
    events,
    requireGithubHostedRunner,
    requireProtected,
    maxRunAttempt: optional(o.maxRunAttempt, (x) => int(x, `${where}.maxRunAttempt`, 1, 1000), null),
    maxCommitAgeSeconds: optional(o.maxCommitAgeSeconds, (x) => int(x, `${where}.maxCommitAgeSeconds`, 60, 10 * 365 * 86400), null),
    kmsKeyArns: strings(o.kmsKeyArns, `${where}.kmsKeyArns`, 1, MAX_KMS_KEYS, 2048, KMS_KEY_ARN),
  };
}

function parseSigner(v: unknown, where: string, environments: Record<string, EnvironmentPolicy>, development: boolean): SshSigner {
  const o = object(v, ['publicKey', 'environments'], ['identities'], where);
  let publicKey: string;
  try {
    publicKey = parseSshPublicKey(text(o.publicKey, `${where}.publicKey`, 16 * 1024)).normalized;
  } catch (e) {
    bad(`${where}.publicKey`, (e as Error).message);
  }
  const identities = optional(o.identities, (x): string[] | null => strings(x, `${where}.identities`, 1, MAX_SIGNER_IDENTITIES, 63, IDENTITY), null);
  // A signing key is not tied to a ref or a review: never a blanket production path.
  if (identities === null && !development) bad(`${where}.identities`, 'must be listed unless the policy is a development policy');
  const envs = strings(o.environments, `${where}.environments`, 1, MAX_ENVIRONMENTS, 64, CLEF_NAME);
  for (const e of envs) if (!Object.hasOwn(environments, e)) bad(`${where}.environments`, `names "${e}", which the repository has no policy for`);
  return { publicKey, identities, environments: envs };
}

function parseIds(o: Record<string, unknown>, kind: IssuerKind, where: string): Pick<TrustedRepository, 'github' | 'gitlab'> {
  const other = kind === 'github' ? 'gitlab' : 'github';
  if (o[other] !== undefined && o[other] !== null) bad(where, `has "${other}" ids but its issuer is a ${kind} issuer`);
  if (kind === 'github') {
    const g = object(o.github, ['repositoryId', 'repositoryOwnerId'], [], `${where}.github`);
    return { github: { repositoryId: text(g.repositoryId, `${where}.github.repositoryId`, 20, DECIMAL_ID), repositoryOwnerId: text(g.repositoryOwnerId, `${where}.github.repositoryOwnerId`, 20, DECIMAL_ID) }, gitlab: null };
  }
  const g = object(o.gitlab, ['projectId', 'namespaceId'], [], `${where}.gitlab`);
  return { github: null, gitlab: { projectId: text(g.projectId, `${where}.gitlab.projectId`, 20, DECIMAL_ID), namespaceId: text(g.namespaceId, `${where}.gitlab.namespaceId`, 20, DECIMAL_ID) } };
}

function parseRepository(v: unknown, where: string, issuers: TrustedIssuer[], development: boolean): TrustedRepository {
  const o = object(v, ['name', 'issuer', 'environments'], ['github', 'gitlab', 'sshSigners'], where);
  const issuerId = text(o.issuer, `${where}.issuer`, 32, ISSUER_ID);
  const issuer = issuers.find((i) => i.id === issuerId);
  if (issuer === undefined) bad(`${where}.issuer`, `names "${issuerId}", which is not an issuers[].id`);
  const envObject = object(o.environments, [], Object.keys(isRecord(o.environments) ? o.environments : {}), `${where}.environments`);
  const names = Object.keys(envObject);
  if (names.length === 0 || names.length > MAX_ENVIRONMENTS) bad(`${where}.environments`, `must have 1 to ${MAX_ENVIRONMENTS} environments`);
  // Null prototype: an environment called "constructor" must not find Object.prototype's.
  const environments = Object.create(null) as Record<string, EnvironmentPolicy>;
  for (const n of names) {
    text(n, `${where}.environments key`, 64, CLEF_NAME);
    environments[n] = parseEnvironment(envObject[n], `${where}.environments.${n}`, issuer.kind, development);
  }
  // An SSH commit signature binds neither a ref nor the pack request (identity, environment,
  // options, nonce): a host holding any commit the signer ever signed could have it packed.
  // So signers are a development convenience only, never a production path.
  if (Array.isArray(o.sshSigners) && o.sshSigners.length > 0 && !development) bad(`${where}.sshSigners`, 'are allowed only in a development policy (an SSH signature binds no ref and no pack request)');
  const sshSigners = optional(o.sshSigners, (x) => array(x, `${where}.sshSigners`, 0, MAX_SSH_SIGNERS).map((s, i) => parseSigner(s, `${where}.sshSigners[${i}]`, environments, development)), []);
  return { name: text(o.name, `${where}.name`, 256, REPO_NAME), issuer: issuerId, ...parseIds(o, issuer.kind, where), environments, sshSigners };
}

function unique(values: string[], where: string): void {
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) bad(where, `repeats "${v.slice(0, 100)}"`);
    seen.add(v);
  }
}

function checkUniqueIssuers(issuers: TrustedIssuer[]): void {
  unique(issuers.map((i) => i.id), 'issuers[].id');
  // The token's `iss` selects the issuer, so two entries with one URL would be ambiguous.
  unique(issuers.map((i) => i.issuer), 'issuers[].issuer');
}

function checkUniqueRepositories(repositories: TrustedRepository[]): void {
  unique(repositories.map((r) => `${r.issuer}/${r.github?.repositoryId ?? r.gitlab?.projectId ?? ''}`), 'repositories (issuer + repository/project id)');
  // One key, one repository: an sshsig names no repository, so the key must.
  unique(repositories.flatMap((r) => r.sshSigners.map((s) => s.publicKey)), 'repositories[].sshSigners[].publicKey');
}

/** Validate a decoded JSON value as a trust policy; returns it normalised (defaults filled in). */
export function validateTrustPolicy(value: unknown): TrustPolicy {
  const o = object(value, ['version', 'development', 'issuers', 'repositories'], [], 'policy');
  if (o.version !== 1) bad('version', 'must be 1');
  const development = bool(o.development, 'development');
  const issuers = array(o.issuers, 'issuers', 1, MAX_ISSUERS).map((x, i) => parseIssuer(x, `issuers[${i}]`));
  checkUniqueIssuers(issuers);
  const repositories = array(o.repositories, 'repositories', 1, MAX_REPOSITORIES).map((x, i) => parseRepository(x, `repositories[${i}]`, issuers, development));
  checkUniqueRepositories(repositories);
  return { version: 1, development, issuers, repositories };
}

/** Parse trust policy JSON bytes strictly. Throws VerificationError TRUST_POLICY_INVALID. */
export function parseTrustPolicy(bytes: Uint8Array, options: ParseTrustPolicyOptions = {}): TrustPolicy {
  if (bytes.length > MAX_TRUST_POLICY_BYTES) bad('file', `is larger than ${MAX_TRUST_POLICY_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = parseStrictJson(bytes, { maxDepth: 16 });
  } catch (e) {
    if (e instanceof StrictJsonError) bad('file', `is not strict JSON: ${e.message}`);
    throw e;
  }
  const policy = validateTrustPolicy(raw);
  if (options.requireCanonical === true && !Buffer.from(canonicalTrustPolicyBytes(policy)).equals(Buffer.from(bytes))) {
    bad('file', 'is not in canonical form (sorted keys, no whitespace, defaults filled in, trailing newline)');
  }
  return policy;
}

function canonicalJson(v: unknown): string {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new TypeError('canonical trust policy JSON holds integers only');
    return String(v);
  }
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isRecord(v)) {
    // UTF-16 code unit order (Array.prototype.sort's default), as RFC 8785 does.
    const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  }
  throw new TypeError(`cannot encode ${typeof v} in canonical JSON`);
}

/** Canonical JSON of a (validated) policy: keys sorted, no whitespace, UTF-8, trailing "\n". */
export function canonicalTrustPolicyBytes(policy: TrustPolicy): Uint8Array {
  return new Uint8Array(Buffer.from(`${canonicalJson(validateTrustPolicy(policy))}\n`, 'utf8'));
}

/** SHA-384 (lowercase hex) of the canonical policy bytes the image carries. */
export function trustPolicyDigest(canonicalBytes: Uint8Array): string {
  return createHash('sha384').update(canonicalBytes).digest('hex');
}
