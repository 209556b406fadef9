// Which files a pack of identity X for environment E reads: clef.yaml, then for each of
// X's namespaces the SOPS file `file_pattern` names for E (Clef's resolve.ts). Only the
// names are needed here — the enclave parses clef.yaml itself, strictly, from the blob it
// verified; sending a superset of paths is harmless (ciphertext), a missing one is refused there.
import { parse as parseYaml } from 'yaml';

export const CLEF_MANIFEST_PATH = 'clef.yaml';
/** Per-identity pack rules the enclave reads from the authenticated commit (docs/pack-policy.md). */
export const REPO_RULES_PATH = '.attested-pack.yaml';

export class ClefPathsError extends Error {
  override readonly name = 'ClefPathsError';
}

function names(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list
    .map((x: unknown) => (typeof x === 'object' && x !== null && 'name' in x ? (x as { name: unknown }).name : undefined))
    .filter((n): n is string => typeof n === 'string');
}

export function clefInputPaths(clefYaml: string, identity: string, environment: string): string[] {
  let doc: unknown;
  try {
    doc = parseYaml(clefYaml);
  } catch (e) {
    throw new ClefPathsError(`clef.yaml is not YAML: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null) throw new ClefPathsError('clef.yaml is not a map');
  const m = doc as Record<string, unknown>;
  const pattern = m.file_pattern;
  if (typeof pattern !== 'string' || !pattern.includes('{namespace}') || !pattern.includes('{environment}')) {
    throw new ClefPathsError('clef.yaml file_pattern must contain {namespace} and {environment}');
  }
  if (!names(m.environments).includes(environment)) throw new ClefPathsError(`clef.yaml declares no environment '${environment}'`);
  const identities = Array.isArray(m.service_identities) ? (m.service_identities as unknown[]) : [];
  const si = identities.find((x) => typeof x === 'object' && x !== null && (x as { name?: unknown }).name === identity) as
    | { namespaces?: unknown }
    | undefined;
  if (si === undefined) throw new ClefPathsError(`clef.yaml declares no service identity '${identity}'`);
  const namespaces = Array.isArray(si.namespaces) ? si.namespaces.filter((n): n is string => typeof n === 'string') : [];
  if (namespaces.length === 0) throw new ClefPathsError(`service identity '${identity}' lists no namespaces`);
  return [CLEF_MANIFEST_PATH, REPO_RULES_PATH, ...namespaces.map((ns) => pattern.replaceAll('{namespace}', ns).replaceAll('{environment}', environment))];
}
