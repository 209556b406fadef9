// The published build manifest (docs/build-manifest.md): what an image was built from and
// what it measures to. Produced by `attested-pack build`, checked by `rebuild`, and the
// source of expected PCRs for the verifier, the simulated enclave and policy generation.
import { fail } from './errors.ts';
import { parseStrictJson } from './strict-json.ts';

export const BUILD_MANIFEST_SCHEMA = 'attested-pack/build-manifest/v1';
export const MAX_MANIFEST_BYTES = 1024 * 1024;
const MAX_INPUTS = 4096;
/** Where `build --trust-policy` puts the policy's canonical JSON in the image (the enclave reads it there). */
export const TRUST_POLICY_IMAGE_PATH = '/app/trust-policy.json';

/** PCR indexes an image build determines (8 only when the EIF is signed). */
export type ImagePcrIndex = 0 | 1 | 2 | 8;

export interface BuildInput {
  /** Stable name, e.g. "enclave-bundle", "node-runtime", "deb:socat", "blob:bzImage". */
  name: string;
  /** Where it came from (package@version, path in the blob set, …); informational. */
  source: string;
  sha384: string;
  size: number;
}

/** The trust anchor measured into the image (docs/pack-policy.md); null: built without one. */
export interface ManifestTrustPolicy {
  /** SHA-384 of the canonical policy bytes in the image (lowercase hex). */
  sha384: string;
  /** A DEVELOPMENT policy (demo/tests only): never to be run on a real Nitro host. */
  development: boolean;
  /** Always TRUST_POLICY_IMAGE_PATH. */
  path: string;
}

export interface BuildManifest {
  schema: typeof BUILD_MANIFEST_SCHEMA;
  project: { name: string; version: string; sourceCommit: string; sourceDirty: boolean };
  /** Which kernel/init blob set: nitro-cli's real blobs, or the labelled development set. */
  blobSet: { kind: 'nitro-cli' | 'development'; description: string };
  sourceDateEpoch: number;
  inputs: BuildInput[];
  eif: { file: string; sha384: string; size: number };
  /** Lowercase hex, 96 characters each. */
  pcrs: { '0': string; '1': string; '2': string; '8'?: string };
  signingCertificateSha256?: string;
  /** Required member: null when the image carries no trust policy (the enclave then refuses every pack). */
  trustPolicy: ManifestTrustPolicy | null;
}

const HEX96 = /^[0-9a-f]{96}$/;
const HEX_COMMIT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Members each object may have: anything else is refused, not ignored (a second reader might act on it). */
const MEMBERS: Record<string, readonly string[]> = {
  manifest: ['schema', 'project', 'blobSet', 'sourceDateEpoch', 'inputs', 'eif', 'pcrs', 'signingCertificateSha256', 'trustPolicy'],
  project: ['name', 'version', 'sourceCommit', 'sourceDirty'],
  blobSet: ['kind', 'description'],
  input: ['name', 'source', 'sha384', 'size'],
  eif: ['file', 'sha384', 'size'],
  trustPolicy: ['sha384', 'development', 'path'],
};

function onlyMembers(obj: Record<string, unknown>, kind: keyof typeof MEMBERS & string, where: string): void {
  const allowed = MEMBERS[kind] as readonly string[];
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) fail('MANIFEST_MALFORMED', `${where}: unknown member ${JSON.stringify(k)}`);
}

function trustPolicyOf(raw: Record<string, unknown>): ManifestTrustPolicy | null {
  if (!Object.prototype.hasOwnProperty.call(raw, 'trustPolicy')) fail('MANIFEST_MALFORMED', 'trustPolicy is required (null for an image built without --trust-policy)');
  const tp = raw.trustPolicy;
  if (tp === null) return null;
  if (!isRecord(tp)) fail('MANIFEST_MALFORMED', 'trustPolicy must be an object or null');
  onlyMembers(tp, 'trustPolicy', 'trustPolicy');
  if (typeof tp.development !== 'boolean') fail('MANIFEST_MALFORMED', 'trustPolicy.development must be a boolean');
  if (tp.path !== TRUST_POLICY_IMAGE_PATH) fail('MANIFEST_MALFORMED', `trustPolicy.path must be "${TRUST_POLICY_IMAGE_PATH}"`);
  return { sha384: str(tp, 'sha384', 'trustPolicy', HEX96), development: tp.development, path: TRUST_POLICY_IMAGE_PATH };
}

// C0, DEL and C1 control characters (docs/build-manifest.md), as in receipts.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function str(obj: Record<string, unknown>, key: string, where: string, pattern?: RegExp): string {
  const v = obj[key];
  // Lengths count Unicode code points (the strict reader refuses lone surrogates).
  if (typeof v !== 'string' || v.length === 0 || [...v].length > 4096) fail('MANIFEST_MALFORMED', `${where}.${key} must be a string of 1 to 4096 characters`);
  if (CONTROL.test(v)) fail('MANIFEST_MALFORMED', `${where}.${key} must not contain control characters`);
  if (pattern !== undefined && !pattern.test(v)) fail('MANIFEST_MALFORMED', `${where}.${key} has the wrong format (${pattern.source})`);
  return v;
}

function uint(obj: Record<string, unknown>, key: string, where: string): number {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail('MANIFEST_MALFORMED', `${where}.${key} must be a non-negative integer`);
  return v;
}

function inputsOf(list: unknown): BuildInput[] {
  if (!Array.isArray(list) || list.length > MAX_INPUTS) fail('MANIFEST_MALFORMED', `inputs must be an array of at most ${MAX_INPUTS}`);
  const inputs = list.map((item, i): BuildInput => {
    if (!isRecord(item)) fail('MANIFEST_MALFORMED', `inputs[${i}] must be an object`);
    onlyMembers(item, 'input', `inputs[${i}]`);
    return {
      name: str(item, 'name', `inputs[${i}]`),
      source: str(item, 'source', `inputs[${i}]`),
      sha384: str(item, 'sha384', `inputs[${i}]`, HEX96),
      size: uint(item, 'size', `inputs[${i}]`),
    };
  });
  const names = new Set(inputs.map((x) => x.name));
  if (names.size !== inputs.length) fail('MANIFEST_MALFORMED', 'input names must be unique');
  return inputs;
}

/** Parse and strictly validate a build manifest (bytes or text). Throws MANIFEST_MALFORMED. */
export function parseBuildManifest(input: string | Uint8Array): BuildManifest {
  // The limit is on bytes, also for text (a string's length counts UTF-16 units).
  const size = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.length;
  if (size > MAX_MANIFEST_BYTES) fail('INPUT_TOO_LARGE', `build manifest is larger than ${MAX_MANIFEST_BYTES} bytes`);
  let raw: unknown;
  try {
    // Strict: duplicate member names, a BOM or invalid UTF-8 are refused, never resolved.
    raw = parseStrictJson(input);
  } catch (e) {
    fail('MANIFEST_MALFORMED', `build manifest is not strict UTF-8 JSON: ${(e as Error).message}`);
  }
  if (!isRecord(raw)) fail('MANIFEST_MALFORMED', 'build manifest must be a JSON object');
  onlyMembers(raw, 'manifest', 'build manifest');
  if (raw.schema !== BUILD_MANIFEST_SCHEMA) fail('MANIFEST_MALFORMED', `build manifest schema must be "${BUILD_MANIFEST_SCHEMA}"`);

  const project = raw.project;
  if (!isRecord(project)) fail('MANIFEST_MALFORMED', 'project must be an object');
  onlyMembers(project, 'project', 'project');
  if (typeof project.sourceDirty !== 'boolean') fail('MANIFEST_MALFORMED', 'project.sourceDirty must be a boolean');

  const blobSet = raw.blobSet;
  if (!isRecord(blobSet)) fail('MANIFEST_MALFORMED', 'blobSet must be an object');
  onlyMembers(blobSet, 'blobSet', 'blobSet');
  if (blobSet.kind !== 'nitro-cli' && blobSet.kind !== 'development') fail('MANIFEST_MALFORMED', 'blobSet.kind must be "nitro-cli" or "development"');

  const inputs = inputsOf(raw.inputs);

  const eif = raw.eif;
  if (!isRecord(eif)) fail('MANIFEST_MALFORMED', 'eif must be an object');
  onlyMembers(eif, 'eif', 'eif');
  const pcrs = raw.pcrs;
  if (!isRecord(pcrs)) fail('MANIFEST_MALFORMED', 'pcrs must be an object');
  for (const k of Object.keys(pcrs)) {
    if (!['0', '1', '2', '8'].includes(k)) fail('MANIFEST_MALFORMED', `pcrs.${k}: only PCR0, 1, 2 and 8 come from an image build`);
  }
  const manifest: BuildManifest = {
    schema: BUILD_MANIFEST_SCHEMA,
    project: {
      name: str(project, 'name', 'project'),
      version: str(project, 'version', 'project'),
      sourceCommit: str(project, 'sourceCommit', 'project', HEX_COMMIT),
      sourceDirty: project.sourceDirty,
    },
    blobSet: { kind: blobSet.kind, description: str(blobSet, 'description', 'blobSet') },
    sourceDateEpoch: uint(raw, 'sourceDateEpoch', 'manifest'),
    inputs,
    eif: { file: str(eif, 'file', 'eif'), sha384: str(eif, 'sha384', 'eif', HEX96), size: uint(eif, 'size', 'eif') },
    pcrs: { '0': str(pcrs, '0', 'pcrs', HEX96), '1': str(pcrs, '1', 'pcrs', HEX96), '2': str(pcrs, '2', 'pcrs', HEX96) },
    trustPolicy: trustPolicyOf(raw),
  };
  if (pcrs['8'] !== undefined) manifest.pcrs['8'] = str(pcrs, '8', 'pcrs', HEX96);
  if (raw.signingCertificateSha256 !== undefined) {
    manifest.signingCertificateSha256 = str(raw, 'signingCertificateSha256', 'manifest', /^[0-9a-f]{64}$/);
  }
  if ((manifest.pcrs['8'] === undefined) !== (manifest.signingCertificateSha256 === undefined)) {
    fail('MANIFEST_MALFORMED', 'pcrs.8 and signingCertificateSha256 go together (signed EIFs only)');
  }
  // Member order of the canonical form: trustPolicy last, after the optional signing digest.
  const { trustPolicy, ...rest } = manifest;
  return { ...rest, trustPolicy };
}

/** Expected PCR values of the manifest as index → bytes, for a PCR policy. */
export function manifestPcrs(manifest: BuildManifest): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (const [k, v] of Object.entries(manifest.pcrs)) {
    if (v !== undefined) out.set(Number(k), Buffer.from(v, 'hex'));
  }
  return out;
}

/** Canonical serialisation: 2-space JSON with a trailing newline, keys in schema order. */
export function serializeBuildManifest(manifest: BuildManifest): string {
  return `${JSON.stringify(parseBuildManifest(JSON.stringify(manifest)), null, 2)}\n`;
}
