// `.attested-pack.yaml`: the per-identity rules that live in the repository and are reviewed
// like Clef recipients — which workflow (GitHub `job_workflow_ref`, GitLab
// `ci_config_ref_uri`) and which deployment environment may pack each identity+environment.
// Read ONLY from the commit the proof vouches for. A sibling file, not a clef.yaml field:
// Clef's own manifest parser refuses unknown top-level keys (docs/pack-policy.md).
// Strict: duplicate keys, aliases, tags, BOM, unknown members, wildcards refused.
import { parseDocument } from 'yaml';
import { authzFail } from './errors.ts';

export const REPO_RULES_PATH = '.attested-pack.yaml';
export const MAX_REPO_RULES_BYTES = 64 * 1024;
export const MAX_RULE_IDENTITIES = 1024;
export const MAX_RULE_ENVIRONMENTS = 64;
export const MAX_RULE_LIST = 32;

export interface RepoRule {
  /** Exact `job_workflow_ref` values (GitHub). Empty: no GitHub workflow may pack. */
  jobWorkflowRefs: string[];
  /** Exact `ci_config_ref_uri` values (GitLab). Empty: no GitLab pipeline may pack. */
  ciConfigRefUris: string[];
  /** If non-null, the token's `environment` claim must be one of these. */
  deploymentEnvironments: string[] | null;
}

export interface RepoRules {
  version: 1;
  /** identity → environment → rule. */
  identities: ReadonlyMap<string, ReadonlyMap<string, RepoRule>>;
}

const IDENTITY = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const CLEF_NAME = /^[a-z][a-z0-9_-]{0,63}$/;
// `<path>@<ref>` with no glob characters or whitespace: matched as an exact string.
const WORKFLOW_REF = /^[A-Za-z0-9._\-/]+@refs\/[A-Za-z0-9._\-/]+$/;
const DEPLOYMENT_ENV = /^[A-Za-z0-9._\-/ ]{1,255}$/;

function bad(where: string, message: string): never {
  authzFail('PACK_UNAUTHORIZED', `${REPO_RULES_PATH}: ${where} ${message}`);
}

/** A plain map: a YAML `!!set` (a Set) or `!!binary` (bytes) is not one. */
function isRecord(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function map(v: unknown, where: string, allowed: readonly string[] | null, max: number): Record<string, unknown> {
  if (!isRecord(v)) bad(where, 'must be a map');
  const keys = Object.keys(v);
  if (allowed !== null) for (const k of keys) if (!allowed.includes(k)) bad(where, `has an unknown key "${k.slice(0, 64)}"`);
  if (keys.length > max) bad(where, `has more than ${max} entries`);
  return v;
}

function list(v: unknown, where: string, pattern: RegExp, maxLen: number): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_RULE_LIST) bad(where, `must be a list of 1 to ${MAX_RULE_LIST} strings`);
  const out = v.map((s, i) => {
    if (typeof s !== 'string' || s.length > maxLen || !pattern.test(s)) bad(`${where}[${i}]`, `must be an exact string of the form ${pattern.source.slice(0, 60)} (no wildcards)`);
    return s;
  });
  if (new Set(out).size !== out.length) bad(where, 'repeats an element');
  return out;
}

function parseRule(v: unknown, where: string): RepoRule {
  const o = map(v ?? {}, where, ['jobWorkflowRefs', 'ciConfigRefUris', 'deploymentEnvironments'], 3);
  return {
    jobWorkflowRefs: o.jobWorkflowRefs === undefined ? [] : list(o.jobWorkflowRefs, `${where}.jobWorkflowRefs`, WORKFLOW_REF, 1024),
    ciConfigRefUris: o.ciConfigRefUris === undefined ? [] : list(o.ciConfigRefUris, `${where}.ciConfigRefUris`, WORKFLOW_REF, 1024),
    deploymentEnvironments: o.deploymentEnvironments === undefined ? null : list(o.deploymentEnvironments, `${where}.deploymentEnvironments`, DEPLOYMENT_ENV, 255),
  };
}

function yamlValue(bytes: Uint8Array): unknown {
  if (bytes.length > MAX_REPO_RULES_BYTES) bad('file', `is larger than ${MAX_REPO_RULES_BYTES} bytes`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    bad('file', 'is not valid UTF-8');
  }
  if (text.charCodeAt(0) === 0xfeff) bad('file', 'starts with a byte order mark');
  const doc = parseDocument(text, { uniqueKeys: true, schema: 'core', prettyErrors: false, merge: false });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem !== undefined) bad('file', `is not strict YAML: ${problem.message.split('\n')[0]?.slice(0, 200) ?? ''}`);
  try {
    // Aliases are refused outright: nothing here needs them, and they are how YAML bombs work.
    return doc.toJS({ maxAliasCount: 0 });
  } catch (e) {
    bad('file', `cannot be read: ${(e as Error).message.slice(0, 200)}`);
  }
}

/** Parse `.attested-pack.yaml` bytes. Throws AuthzError PACK_UNAUTHORIZED on anything malformed. */
export function parseRepoRules(bytes: Uint8Array): RepoRules {
  const top = map(yamlValue(bytes), 'document', ['version', 'identities'], 2);
  if (top.version !== 1) bad('version', 'must be 1');
  const ids = map(top.identities, 'identities', null, MAX_RULE_IDENTITIES);
  const identities = new Map<string, Map<string, RepoRule>>();
  for (const [id, envs] of Object.entries(ids)) {
    if (!IDENTITY.test(id)) bad(`identities.${id.slice(0, 64)}`, 'is not a valid identity name');
    const byEnv = new Map<string, RepoRule>();
    for (const [env, rule] of Object.entries(map(envs, `identities.${id}`, null, MAX_RULE_ENVIRONMENTS))) {
      if (!CLEF_NAME.test(env)) bad(`identities.${id}.${env.slice(0, 64)}`, 'is not a valid environment name');
      byEnv.set(env, parseRule(rule, `identities.${id}.${env}`));
    }
    identities.set(id, byEnv);
  }
  return { version: 1, identities };
}

/** The rule for identity+environment, or PACK_UNAUTHORIZED when the file has none. */
export function ruleFor(rules: RepoRules, identity: string, environment: string): RepoRule {
  const rule = rules.identities.get(identity)?.get(environment);
  if (rule === undefined) authzFail('PACK_UNAUTHORIZED', `${REPO_RULES_PATH} has no rule for identity "${identity}" in environment "${environment}"`);
  return rule;
}
