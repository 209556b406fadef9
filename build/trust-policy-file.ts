// `build --trust-policy FILE`: the operator's YAML or JSON trust policy → the canonical JSON
// bytes the image carries at /app/trust-policy.json (docs/pack-policy.md). The verifier's
// parser reads JSON only (Node's standard library alone), so the YAML step lives here, with
// the maintained `yaml` package, kept to the JSON subset a policy needs: one document, no
// anchors, aliases, merge keys, tags or directives, string keys only, no duplicate keys, no BOM.
// Whatever the input syntax, the policy is then parsed by `parseTrustPolicy` and written
// out by `canonicalTrustPolicyBytes`, so the same policy gives the same PCRs.
import { isAlias, isMap, isNode, isScalar, parseAllDocuments, visit, type Document } from 'yaml';
import { canonicalTrustPolicyBytes, parseTrustPolicy, trustPolicyDigest, MAX_TRUST_POLICY_BYTES } from '../verifier/trust-policy.ts';
import { isVerificationError } from '../verifier/errors.ts';
import { buildFail } from './errors.ts';

export interface TrustPolicyImage {
  /** Canonical JSON: what goes into the image. */
  bytes: Uint8Array;
  /** SHA-384 hex of `bytes` (the manifest's trustPolicy.sha384). */
  sha384: string;
  development: boolean;
}

function invalid(message: string): never {
  return buildFail('TRUST_POLICY_INVALID', message);
}

/** JSON text (the first non-blank character is "{") goes to the strict JSON parser untouched. */
function looksLikeJson(text: string): boolean {
  return /^[\t\n\r ]*\{/.test(text);
}

function refuseUnneededYaml(doc: Document.Parsed): void {
  visit(doc, {
    Alias: () => invalid('YAML aliases (*name) are not allowed in a trust policy'),
    Node: (_key, node) => {
      if (isNode(node) && node.anchor !== undefined) invalid(`YAML anchors (&${node.anchor}) are not allowed in a trust policy`);
      // An explicit tag (!!str, !custom) changes how a value is read: none is needed.
      if (isNode(node) && node.tag !== undefined) invalid(`YAML tags (${node.tag}) are not allowed in a trust policy`);
      return undefined;
    },
    Pair: (_key, pair) => {
      const key: unknown = pair.key;
      if (!isScalar(key) || typeof key.value !== 'string') invalid(`trust policy keys must be strings (found ${String(isScalar(key) ? key.value : 'a collection')})`);
      if (key.value === '<<') invalid('YAML merge keys (<<) are not allowed in a trust policy');
      return undefined;
    },
  });
}

/** The YAML's value as JSON bytes; refuses everything a JSON policy could not say. */
function yamlToJson(text: string): Uint8Array {
  const docs = parseAllDocuments(text, { uniqueKeys: true, strict: true, merge: false, version: '1.2', schema: 'core', prettyErrors: false });
  const list = (Array.isArray(docs) ? docs : []) as Document.Parsed[];
  if (list.length !== 1) invalid(`the trust policy YAML must hold exactly one document, not ${list.length}`);
  const doc = list[0] as Document.Parsed;
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem !== undefined) invalid(`the trust policy is not valid YAML: ${problem.message}`);
  // %YAML 1.1 would change how plain scalars read (yes, 0o17, merge keys); %TAG only serves tags.
  if (doc.directives.yaml.explicit === true || Object.keys(doc.directives.tags).some((h) => h !== '!!')) invalid('YAML directives (%YAML, %TAG) are not allowed in a trust policy');
  refuseUnneededYaml(doc);
  if (isAlias(doc.contents) || !isMap(doc.contents)) invalid('the trust policy YAML must be a mapping at the top');
  const value: unknown = doc.toJS({ maxAliasCount: 0 });
  const json = JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v)) invalid('the trust policy holds a non-finite number (.inf/.nan)');
    if (typeof v === 'bigint') invalid('the trust policy holds an integer out of range');
    return v;
  });
  return new TextEncoder().encode(json);
}

/** Read a trust policy file (YAML or JSON bytes); refuses with TRUST_POLICY_INVALID. */
export function loadTrustPolicy(bytes: Uint8Array, name: string): TrustPolicyImage {
  if (bytes.length > MAX_TRUST_POLICY_BYTES) invalid(`${name} is larger than ${MAX_TRUST_POLICY_BYTES} bytes`);
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) invalid(`${name} starts with a byte order mark`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return invalid(`${name} is not UTF-8`);
  }
  const json = looksLikeJson(text) ? bytes : yamlToJson(text);
  try {
    const canonical = canonicalTrustPolicyBytes(parseTrustPolicy(json));
    const policy = parseTrustPolicy(canonical, { requireCanonical: true });
    return { bytes: canonical, sha384: trustPolicyDigest(canonical), development: policy.development };
  } catch (e) {
    if (isVerificationError(e)) return invalid(`${name}: ${e.message}`);
    throw e;
  }
}
