// Gathering an identity's secrets for one environment, as Clef's resolveIdentitySecrets
// does: the identity's namespaces in manifest order, the file for each from file_pattern
// (a missing file is skipped), every top-level key kept as String(value) of the
// decrypted document. Files are read through a callback so the enclave can serve them
// from verified git blobs.
import { decryptSops } from '../sops/decrypt.ts';
import { formatForFileName, parseSops } from '../sops/document.ts';
import { clefValueString } from '../sops/plain.ts';
import type { SopsLimits } from '../sops/tree.ts';
import type { DataKeyUnwrapper } from '../sops/unwrap.ts';
import { ClefError } from './errors.ts';
import { findIdentity, identityCells, type ClefManifest, type MatrixCell, type ServiceIdentityEnvironmentConfig } from './manifest.ts';
import type { SecretValues } from './pack.ts';

export interface ResolveInput {
  manifest: ClefManifest;
  identity: string;
  environment: string;
  /**
   * File contents by repo-relative path (bytes preferred: sops decodes them per format);
   * undefined when the file does not exist.
   */
  readFile(path: string): Promise<string | Uint8Array | undefined>;
  unwrapper: DataKeyUnwrapper;
  limits?: Partial<SopsLimits>;
}

export interface ResolvedSecrets {
  values: SecretValues;
  config: ServiceIdentityEnvironmentConfig;
  /** The files that were read, with their verified SOPS MACs (for receipts). */
  files: Array<MatrixCell & { mac: string }>;
}

export async function resolveIdentitySecrets(input: ResolveInput): Promise<ResolvedSecrets> {
  const { config } = findIdentity(input.manifest, input.identity, input.environment);
  const values: SecretValues = {};
  const files: ResolvedSecrets['files'] = [];
  for (const cell of identityCells(input.manifest, input.identity, input.environment)) {
    const text = await input.readFile(cell.path);
    if (text === undefined) continue;
    const parsed = parseSops(text, { format: formatForFileName(cell.path), fileName: cell.path, ...(input.limits === undefined ? {} : { limits: input.limits }) });
    if (parsed.branches.length > 1) {
      // Clef parses `sops -d` output with YAML.parse, which refuses several documents.
      throw new ClefError('PACK_FAILED', `${cell.path}: multi-document YAML cannot be packed`);
    }
    const dec = await decryptSops(parsed, input.unwrapper);
    const bucket: Record<string, string> = {};
    for (const [k, v] of Object.entries(dec.data)) {
      Object.defineProperty(bucket, k, { value: clefValueString(v), enumerable: true, writable: true, configurable: true });
    }
    Object.defineProperty(values, cell.namespace, { value: bucket, enumerable: true, writable: true, configurable: true });
    files.push({ ...cell, mac: dec.mac });
  }
  return { values, config, files };
}
