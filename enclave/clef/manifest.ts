// clef.yaml parsing and validation, rule for rule as Clef's ManifestParser
// (packages/core/src/manifest/parser.ts), with the line of the offending node in every
// error. Also the namespace × environment matrix and each identity's files.
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { ClefError } from './errors.ts';

export type SopsBackend = 'age' | 'awskms' | 'gcpkms' | 'azurekv' | 'pgp' | 'hsm';
export type AgeRecipientEntry = string | { key: string; label?: string };

export interface ClefEnvironment {
  name: string;
  description: string;
  protected?: boolean;
  sops?: {
    backend: SopsBackend;
    aws_kms_arn?: string;
    gcp_kms_resource_id?: string;
    azure_kv_url?: string;
    pgp_fingerprint?: string;
    pkcs11_uri?: string;
  };
  recipients?: AgeRecipientEntry[];
}

export interface ClefNamespace {
  name: string;
  description: string;
  schema?: string;
  owners?: string[];
}

export type ServiceIdentityEnvironmentConfig =
  | { recipient: string }
  | { kms: { provider: 'aws' | 'gcp' | 'azure'; keyId: string } };

export interface ServiceIdentity {
  name: string;
  description: string;
  namespaces: string[];
  environments: Record<string, ServiceIdentityEnvironmentConfig>;
  pack_only?: true;
}

export interface ClefManifest {
  version: 1;
  environments: ClefEnvironment[];
  namespaces: ClefNamespace[];
  sops: {
    default_backend: SopsBackend;
    age?: { recipients: AgeRecipientEntry[] };
    aws_kms_arn?: string;
    gcp_kms_resource_id?: string;
    azure_kv_url?: string;
    pgp_fingerprint?: string;
    pkcs11_uri?: string;
  };
  file_pattern: string;
  service_identities?: ServiceIdentity[];
}

const BACKENDS: readonly SopsBackend[] = ['age', 'awskms', 'gcpkms', 'azurekv', 'pgp', 'hsm'];
const TOP_LEVEL = ['version', 'environments', 'namespaces', 'sops', 'file_pattern', 'service_identities'];
const NAME = /^[a-z][a-z0-9_-]*$/;
const IDENTITY_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const PKCS11_URI = /^pkcs11:[a-zA-Z][a-zA-Z0-9_-]*=[^;]+/;
const BECH32 = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const MAX_MANIFEST_BYTES = 1024 * 1024;

type Path = ReadonlyArray<string | number>;
type Obj = Record<string, unknown>;

class Checker {
  private readonly doc: Document;
  private readonly lines: LineCounter;

  constructor(doc: Document, lines: LineCounter) {
    this.doc = doc;
    this.lines = lines;
  }

  /** Throw MANIFEST_INVALID pointing at the deepest existing node on `path`. */
  fail(path: Path, message: string): never {
    let line: number | undefined;
    for (let n = path.length; n >= 0 && line === undefined; n--) {
      const node = n === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range !== undefined && node.range !== null) line = this.lines.linePos(node.range[0]).line;
    }
    const field = path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('').replace(/^\./, '');
    throw new ClefError('MANIFEST_INVALID', message, { ...(line === undefined ? {} : { line }), ...(field === '' ? {} : { field }) });
  }
}

function isObj(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Clef's validateAgePublicKey: `age1` prefix, bech32 characters, at least 10 characters. */
export function ageRecipientProblem(input: string): string | undefined {
  const t = input.trim();
  if (!t.startsWith('age1')) return `age public key must start with 'age1'. Got: '${t.slice(0, 10)}...'`;
  if (t.length < 10) return `age public key is too short. Expected at least 10 characters, got ${t.length}.`;
  for (const ch of t.slice(4)) {
    if (!BECH32.includes(ch)) return `Invalid character '${ch}' in age public key. Only bech32 characters are allowed after the 'age1' prefix.`;
  }
  return undefined;
}

/** Clef's validateAwsKmsArn, reduced to its accept/reject decision with the reason. */
export function awsKmsArnProblem(input: string): string | undefined {
  if (!input.startsWith('arn:')) return "expected an ARN starting with 'arn:'";
  const seg = input.split(':');
  if (seg.length !== 6) return `expected exactly 6 colon-delimited segments, got ${seg.length}`;
  const [, partition = '', service = '', region = '', account = '', resource = ''] = seg;
  if (!/^aws(?:-[a-z]+)*$/.test(partition)) return `partition segment '${partition}' is not recognized`;
  if (service !== 'kms') return `service segment must be 'kms', got '${service}'`;
  if (!/^[a-z]{2,}(?:-[a-z]+)+-\d+$/.test(region)) return `region segment '${region}' doesn't look like an AWS region`;
  if (!/^\d{12}$/.test(account)) return `account segment '${account}' must be exactly 12 digits`;
  if (!resource.startsWith('key/') && !resource.startsWith('alias/')) return `resource '${resource}' must start with 'key/' or 'alias/'`;
  if (resource === 'key/' || resource === 'alias/') return "resource id is empty after 'key/' or 'alias/'";
  return undefined;
}

function parseRecipients(c: Checker, list: unknown, path: Path, envName: string): AgeRecipientEntry[] {
  if (!Array.isArray(list)) c.fail(path, `Environment '${envName}' has an invalid 'recipients' field. It must be an array.`);
  return list.map((entry, ri) => {
    const p = [...path, ri];
    if (typeof entry === 'string') {
      const problem = ageRecipientProblem(entry);
      if (problem !== undefined) c.fail(p, `Environment '${envName}' recipient at index ${ri}: ${problem}`);
      return entry.trim();
    }
    if (isObj(entry)) {
      if (typeof entry.key !== 'string') c.fail(p, `Environment '${envName}' recipient at index ${ri} must have a 'key' string.`);
      const problem = ageRecipientProblem(entry.key);
      if (problem !== undefined) c.fail([...p, 'key'], `Environment '${envName}' recipient at index ${ri}: ${problem}`);
      return { key: entry.key.trim(), ...(typeof entry.label === 'string' ? { label: entry.label } : {}) };
    }
    return c.fail(p, `Environment '${envName}' recipient at index ${ri} must be a string or object.`);
  });
}

function parseEnvironment(c: Checker, env: unknown, i: number): ClefEnvironment {
  const path = ['environments', i];
  if (!isObj(env)) c.fail(path, `Environment at index ${i} must be an object with 'name' and 'description'.`);
  if (typeof env.name !== 'string' || env.name === '') c.fail(path, `Environment at index ${i} is missing a 'name' string.`);
  const name = env.name;
  if (!NAME.test(name)) {
    c.fail([...path, 'name'], `Environment name '${name}' is invalid. Names must start with a lowercase letter and contain only lowercase letters, digits, hyphens, and underscores.`);
  }
  if (typeof env.description !== 'string' || env.description === '') c.fail(path, `Environment '${name}' is missing a 'description' string.`);
  const out: ClefEnvironment = { name, description: env.description, ...(typeof env.protected === 'boolean' ? { protected: env.protected } : {}) };
  if (env.sops !== undefined) {
    const sp = [...path, 'sops'];
    if (!isObj(env.sops)) c.fail(sp, `Environment '${name}' has an invalid 'sops' field. It must be an object.`);
    const s = env.sops;
    if (typeof s.backend !== 'string' || s.backend === '') {
      c.fail(sp, `Environment '${name}' sops override is missing 'backend'. Must be one of: ${BACKENDS.join(', ')}.`);
    }
    if (!(BACKENDS as readonly string[]).includes(s.backend)) {
      c.fail([...sp, 'backend'], `Environment '${name}' has invalid sops backend '${s.backend}'. Must be one of: ${BACKENDS.join(', ')}.`);
    }
    const backend = s.backend as SopsBackend;
    const need: Partial<Record<SopsBackend, string>> = { awskms: 'aws_kms_arn', gcpkms: 'gcp_kms_resource_id', azurekv: 'azure_kv_url', pgp: 'pgp_fingerprint', hsm: 'pkcs11_uri' };
    const field = need[backend];
    if (field !== undefined && typeof s[field] !== 'string') c.fail(sp, `Environment '${name}' uses '${backend}' backend but is missing '${field}'.`);
    if (backend === 'hsm' && !PKCS11_URI.test(String(s.pkcs11_uri))) {
      c.fail([...sp, 'pkcs11_uri'], `Environment '${name}' has an invalid 'pkcs11_uri' '${String(s.pkcs11_uri)}'. Must start with 'pkcs11:' and contain at least one attribute.`);
    }
    const sops: NonNullable<ClefEnvironment['sops']> = { backend };
    for (const f of ['aws_kms_arn', 'gcp_kms_resource_id', 'azure_kv_url', 'pgp_fingerprint', 'pkcs11_uri'] as const) {
      const v = s[f];
      if (typeof v === 'string') sops[f] = v;
    }
    out.sops = sops;
  }
  if (env.recipients !== undefined) {
    const r = parseRecipients(c, env.recipients, [...path, 'recipients'], name);
    if (r.length > 0) out.recipients = r;
  }
  return out;
}

function parseNamespace(c: Checker, ns: unknown, i: number): ClefNamespace {
  const path = ['namespaces', i];
  if (!isObj(ns)) c.fail(path, `Namespace at index ${i} must be an object with 'name' and 'description'.`);
  if (typeof ns.name !== 'string' || ns.name === '') c.fail(path, `Namespace at index ${i} is missing a 'name' string.`);
  if (!NAME.test(ns.name)) {
    c.fail([...path, 'name'], `Namespace name '${ns.name}' is invalid. Names must start with a lowercase letter and contain only lowercase letters, digits, hyphens, and underscores.`);
  }
  if (typeof ns.description !== 'string' || ns.description === '') c.fail(path, `Namespace '${ns.name}' is missing a 'description' string.`);
  return {
    name: ns.name,
    description: ns.description,
    ...(typeof ns.schema === 'string' ? { schema: ns.schema } : {}),
    ...(Array.isArray(ns.owners) ? { owners: ns.owners as string[] } : {}),
  };
}

function parseIdentity(c: Checker, si: unknown, i: number, nsNames: Set<string>, envNames: Set<string>): ServiceIdentity {
  const path = ['service_identities', i];
  if (!isObj(si)) c.fail(path, `Service identity at index ${i} must be an object.`);
  if (typeof si.name !== 'string' || si.name === '') c.fail(path, `Service identity at index ${i} is missing a 'name' string.`);
  const name = si.name;
  if (!IDENTITY_NAME.test(name)) {
    c.fail([...path, 'name'], `Service identity '${name}' has an invalid name. Names must be lowercase alphanumeric with hyphens, must not start or end with a hyphen, and max 63 characters.`);
  }
  if (si.description !== undefined && si.description !== null && typeof si.description !== 'string') {
    c.fail([...path, 'description'], `Service identity '${name}' has a non-string 'description'.`);
  }
  if (si.pack_only !== undefined && typeof si.pack_only !== 'boolean') c.fail([...path, 'pack_only'], `Service identity '${name}' has a non-boolean 'pack_only' field.`);
  if (!Array.isArray(si.namespaces) || si.namespaces.length === 0) c.fail(path, `Service identity '${name}' must have a non-empty 'namespaces' array.`);
  si.namespaces.forEach((ns, j) => {
    if (typeof ns !== 'string') c.fail([...path, 'namespaces', j], `Service identity '${name}' has a non-string entry in 'namespaces'.`);
    if (!nsNames.has(ns)) c.fail([...path, 'namespaces', j], `Service identity '${name}' references unknown namespace '${ns}'.`);
  });
  if (!isObj(si.environments)) c.fail(path, `Service identity '${name}' must have an 'environments' object.`);
  // Null prototype: an environment named "constructor" must not find Object.prototype's.
  const envs = Object.create(null) as Record<string, ServiceIdentityEnvironmentConfig>;
  for (const [envName, v] of Object.entries(si.environments)) {
    const ep = [...path, 'environments', envName];
    if (!envNames.has(envName)) c.fail(ep, `Service identity '${name}' references unknown environment '${envName}'.`);
    if (!isObj(v)) c.fail(ep, `Service identity '${name}' environment '${envName}' must be an object with 'recipient' or 'kms'.`);
    const hasR = v.recipient !== undefined;
    const hasK = v.kms !== undefined;
    if (hasR && hasK) c.fail(ep, `Service identity '${name}' environment '${envName}': 'recipient' and 'kms' are mutually exclusive.`);
    if (!hasR && !hasK) c.fail(ep, `Service identity '${name}' environment '${envName}' must have either 'recipient' or 'kms'.`);
    if (hasR) {
      if (typeof v.recipient !== 'string') c.fail([...ep, 'recipient'], `Service identity '${name}' environment '${envName}': 'recipient' must be a string.`);
      const problem = ageRecipientProblem(v.recipient);
      if (problem !== undefined) c.fail([...ep, 'recipient'], `Service identity '${name}' environment '${envName}': ${problem}`);
      envs[envName] = { recipient: v.recipient.trim() };
    } else {
      const k = v.kms;
      if (!isObj(k)) c.fail([...ep, 'kms'], `Service identity '${name}' environment '${envName}': 'kms' must be an object.`);
      if (k.provider !== 'aws' && k.provider !== 'gcp' && k.provider !== 'azure') {
        c.fail([...ep, 'kms'], `Service identity '${name}' environment '${envName}': kms.provider must be one of: aws, gcp, azure.`);
      }
      if (typeof k.keyId !== 'string' || k.keyId === '') c.fail([...ep, 'kms'], `Service identity '${name}' environment '${envName}': kms.keyId must be a non-empty string.`);
      if (k.provider === 'aws') {
        const problem = awsKmsArnProblem(k.keyId);
        if (problem !== undefined) {
          c.fail([...ep, 'kms', 'keyId'], `Service identity '${name}' environment '${envName}': kms.keyId is not a valid AWS KMS ARN — ${problem} (got '${k.keyId}').`);
        }
      }
      if (Object.prototype.hasOwnProperty.call(k, 'region')) {
        c.fail([...ep, 'kms', 'region'], `Service identity '${name}' environment '${envName}': kms.region is no longer accepted; the region is read from the AWS KMS key ARN. Remove this field.`);
      }
      envs[envName] = { kms: { provider: k.provider, keyId: k.keyId } };
    }
  }
  return {
    name,
    description: typeof si.description === 'string' ? si.description : '',
    namespaces: si.namespaces as string[],
    environments: envs,
    ...(si.pack_only === true ? { pack_only: true as const } : {}),
  };
}

function unique<T extends { name: string }>(c: Checker, items: T[], section: string, what: string): Set<string> {
  const seen = new Set<string>();
  items.forEach((x, i) => {
    if (seen.has(x.name)) c.fail([section, i], `Duplicate ${what} name '${x.name}'.`);
    seen.add(x.name);
  });
  return seen;
}

/** Parse and validate clef.yaml text. Throws ClefError MANIFEST_INVALID with a line. */
export function parseClefManifest(text: string): ClefManifest {
  if (Buffer.byteLength(text, 'utf8') > MAX_MANIFEST_BYTES) throw new ClefError('MANIFEST_INVALID', 'clef.yaml is larger than 1 MiB');
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  const err = doc.errors[0];
  if (err !== undefined) {
    const line = err.linePos?.[0]?.line;
    throw new ClefError('MANIFEST_INVALID', `clef.yaml contains invalid YAML: ${err.message.split('\n')[0] ?? ''}`, line === undefined ? {} : { line });
  }
  const c: Checker = new Checker(doc, lines);
  let obj: unknown;
  try {
    obj = doc.toJS({ maxAliasCount: 50 });
  } catch (e) {
    throw new ClefError('MANIFEST_INVALID', `clef.yaml cannot be read: ${(e as Error).message}`);
  }
  if (!isObj(obj)) c.fail([], 'Manifest must be a YAML object, not null or a scalar value.');
  for (const k of Object.keys(obj)) {
    if (!TOP_LEVEL.includes(k)) c.fail([k], `Unknown top-level key '${k}' in manifest. Valid keys are: ${TOP_LEVEL.join(', ')}.`);
  }
  if (obj.version === undefined) c.fail([], "Missing required field 'version'.");
  if (obj.version !== 1) c.fail(['version'], "Field 'version' must be 1. Only version 1 is currently supported.");
  if (obj.environments === undefined || obj.environments === null) c.fail([], "Missing required field 'environments'. Define at least one environment.");
  if (!Array.isArray(obj.environments) || obj.environments.length === 0) c.fail(['environments'], "Field 'environments' must be a non-empty array.");
  const environments = obj.environments.map((e, i) => parseEnvironment(c, e, i));
  const envNames = unique(c, environments, 'environments', 'environment');
  if (obj.namespaces === undefined || obj.namespaces === null) c.fail([], "Missing required field 'namespaces'. Define at least one namespace.");
  if (!Array.isArray(obj.namespaces) || obj.namespaces.length === 0) c.fail(['namespaces'], "Field 'namespaces' must be a non-empty array.");
  const namespaces = obj.namespaces.map((n, i) => parseNamespace(c, n, i));
  const nsNames = unique(c, namespaces, 'namespaces', 'namespace');

  if (obj.sops === undefined || obj.sops === null) c.fail([], "Missing required field 'sops'. Configure at least 'default_backend'.");
  if (!isObj(obj.sops)) c.fail(['sops'], "Field 'sops' must be an object.");
  const s = obj.sops;
  if (typeof s.default_backend !== 'string' || !(BACKENDS as readonly string[]).includes(s.default_backend)) {
    c.fail(['sops', 'default_backend'], `Field 'sops.default_backend' is required and must be one of: ${BACKENDS.join(', ')}.`);
  }
  if (s.pkcs11_uri !== undefined && typeof s.pkcs11_uri !== 'string') c.fail(['sops', 'pkcs11_uri'], "Field 'sops.pkcs11_uri' must be a string.");
  if (typeof s.pkcs11_uri === 'string' && !PKCS11_URI.test(s.pkcs11_uri)) c.fail(['sops', 'pkcs11_uri'], `Field 'sops.pkcs11_uri' has invalid format '${s.pkcs11_uri}'.`);
  if (s.default_backend === 'hsm' && typeof s.pkcs11_uri !== 'string') c.fail(['sops'], "Field 'sops.pkcs11_uri' is required when sops.default_backend is 'hsm'.");
  const sops: ClefManifest['sops'] = { default_backend: s.default_backend as SopsBackend };
  if (isObj(s.age) && Array.isArray(s.age.recipients)) {
    // Clef copies these without validating them; so do we.
    sops.age = {
      recipients: s.age.recipients.map((r: unknown) => (typeof r === 'string' ? r : isObj(r) ? { key: String(r.key ?? ''), ...(typeof r.label === 'string' ? { label: r.label } : {}) } : String(r))),
    };
  }
  for (const f of ['aws_kms_arn', 'gcp_kms_resource_id', 'azure_kv_url', 'pgp_fingerprint', 'pkcs11_uri'] as const) {
    const v = s[f];
    if (typeof v === 'string') sops[f] = v;
  }
  environments.forEach((env, i) => {
    const backend = env.sops?.backend ?? sops.default_backend;
    if (env.recipients !== undefined && backend !== 'age') {
      c.fail(['environments', i, 'recipients'], `Environment '${env.name}' has per-environment recipients but uses '${backend}' backend. Per-environment recipients are only supported with the 'age' backend.`);
    }
  });

  if (typeof obj.file_pattern !== 'string' || obj.file_pattern === '') {
    c.fail(obj.file_pattern === undefined ? [] : ['file_pattern'], "Missing required field 'file_pattern'. Example: '{namespace}/{environment}.enc.yaml'.");
  }
  for (const token of ['{namespace}', '{environment}']) {
    if (!obj.file_pattern.includes(token)) c.fail(['file_pattern'], `file_pattern must contain '${token}'. Got: '${obj.file_pattern}'.`);
  }

  let identities: ServiceIdentity[] | undefined;
  if (obj.service_identities !== undefined) {
    if (!Array.isArray(obj.service_identities)) c.fail(['service_identities'], "Field 'service_identities' must be an array.");
    identities = obj.service_identities.map((si, i) => parseIdentity(c, si, i, nsNames, envNames));
    unique(c, identities, 'service_identities', 'service identity');
  }
  return {
    version: 1,
    environments,
    namespaces,
    sops,
    file_pattern: obj.file_pattern,
    ...(identities === undefined ? {} : { service_identities: identities }),
  };
}

export interface MatrixCell {
  namespace: string;
  environment: string;
  /** Repo-relative path (file_pattern with the first `{namespace}` / `{environment}` replaced, as Clef does). */
  path: string;
}

/** The namespace × environment matrix, namespaces outer, in manifest order. */
export function manifestMatrix(m: ClefManifest): MatrixCell[] {
  return m.namespaces.flatMap((ns) =>
    m.environments.map((env) => ({
      namespace: ns.name,
      environment: env.name,
      // String.replace with a string pattern replaces only the first occurrence, like Clef.
      path: m.file_pattern.replace('{namespace}', ns.name).replace('{environment}', env.name),
    })),
  );
}

export function findIdentity(m: ClefManifest, identity: string, environment: string): { identity: ServiceIdentity; config: ServiceIdentityEnvironmentConfig } {
  const si = m.service_identities?.find((x) => x.name === identity);
  if (si === undefined) throw new ClefError('IDENTITY_NOT_FOUND', `Service identity '${identity}' not found in manifest.`);
  const config = Object.hasOwn(si.environments, environment) ? si.environments[environment] : undefined;
  if (config === undefined) throw new ClefError('ENVIRONMENT_NOT_FOUND', `Environment '${environment}' not found on service identity '${identity}'.`);
  return { identity: si, config };
}

/** The cells packing `identity` for `environment` reads: its namespaces, manifest order. */
export function identityCells(m: ClefManifest, identity: string, environment: string): MatrixCell[] {
  const { identity: si } = findIdentity(m, identity, environment);
  return manifestMatrix(m).filter((c) => c.environment === environment && si.namespaces.includes(c.namespace));
}
