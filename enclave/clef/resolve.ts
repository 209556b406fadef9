// Gathering an identity's secrets for one environment, as Clef's resolveIdentitySecrets
// does: the identity's namespaces in manifest order, the file for each from file_pattern
// (a missing file is skipped), every top-level key kept as String(value) of the
// decrypted document. Files are read through a callback so the enclave can serve them
// from verified git blobs; data keys are unwrapped concurrently, results used in order.
import { decryptSopsWithKey } from '../sops/decrypt.ts';
import { formatForFileName, parseSops, type ParsedSops } from '../sops/document.ts';
import { SopsError } from '../sops/errors.ts';
import { clefValueString } from '../sops/plain.ts';
import type { SopsLimits } from '../sops/tree.ts';
import type { DataKeyUnwrapper } from '../sops/unwrap.ts';
import { ClefError } from './errors.ts';
import { findIdentity, identityCells, type ClefManifest, type MatrixCell, type ServiceIdentityEnvironmentConfig } from './manifest.ts';
import type { SecretValues } from './pack.ts';
import { runInOrder } from '../unwrap-pool.ts';

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
  /** Data keys unwrapped at once (default DEFAULT_UNWRAP_CONCURRENCY). */
  concurrency?: number;
  /**
   * Called once with every parsed file's metadata before the first data key is unwrapped;
   * throw to refuse (the pack's key-scope check: no Decrypt with a key the environment may
   * not use).
   */
  beforeUnwrap?(files: ReadonlyArray<{ path: string; metadata: ParsedSops['metadata'] }>): void;
}

export interface ResolvedSecrets {
  values: SecretValues;
  config: ServiceIdentityEnvironmentConfig;
  /** The files that were read, with their verified SOPS MACs (for receipts). */
  files: Array<MatrixCell & { mac: string }>;
}

type Prepared = { cell: MatrixCell; parsed: ParsedSops } | { cell: MatrixCell; error: unknown };

/** Read and parse one file; an error is kept (not thrown) so it is reported in file order. */
async function prepare(input: ResolveInput, cell: MatrixCell): Promise<Prepared | undefined> {
  try {
    const text = await input.readFile(cell.path);
    if (text === undefined) return undefined;
    const parsed = parseSops(text, { format: formatForFileName(cell.path), fileName: cell.path, ...(input.limits === undefined ? {} : { limits: input.limits }) });
    if (parsed.branches.length > 1) {
      // Clef parses `sops -d` output with YAML.parse, which refuses several documents.
      throw new ClefError('PACK_FAILED', `${cell.path}: multi-document YAML cannot be packed`);
    }
    return { cell, parsed };
  } catch (error) {
    return { cell, error };
  }
}

/**
 * Files are read and parsed first (in order), their data keys unwrapped concurrently
 * (enclave/unwrap-pool.ts: bounded, in-order results), then decrypted and MAC-checked in
 * file order — so a refusal names the same file, with the same error, as one file after
 * another would.
 */
export async function resolveIdentitySecrets(input: ResolveInput): Promise<ResolvedSecrets> {
  const { config } = findIdentity(input.manifest, input.identity, input.environment);
  const values: SecretValues = {};
  const files: ResolvedSecrets['files'] = [];
  const prepared: Prepared[] = [];
  for (const cell of identityCells(input.manifest, input.identity, input.environment)) {
    const p = await prepare(input, cell);
    if (p === undefined) continue;
    prepared.push(p);
    if ('error' in p) break; // nothing after the first unreadable file is needed
  }
  input.beforeUnwrap?.(prepared.flatMap((p) => ('parsed' in p ? [{ path: p.cell.path, metadata: p.parsed.metadata }] : [])));
  await runInOrder<{ key: Uint8Array }>({
    count: prepared.length,
    ...(input.concurrency === undefined ? {} : { concurrency: input.concurrency }),
    async task(i) {
      const p = prepared[i] as Prepared;
      if ('error' in p) throw p.error;
      return { key: await input.unwrapper.unwrap(p.parsed.metadata, p.parsed.fileName) };
    },
    consume(i, { key }) {
      const { cell, parsed } = prepared[i] as Prepared & { parsed: ParsedSops };
      if (key.length !== 32) throw new SopsError('SOPS_NO_DATA_KEY', `data key is ${key.length} bytes, expected 32`, { fileName: parsed.fileName });
      const dec = decryptSopsWithKey(parsed, key);
      const bucket: Record<string, string> = {};
      for (const [k, v] of Object.entries(dec.data)) {
        Object.defineProperty(bucket, k, { value: clefValueString(v), enumerable: true, writable: true, configurable: true });
      }
      Object.defineProperty(values, cell.namespace, { value: bucket, enumerable: true, writable: true, configurable: true });
      files.push({ ...cell, mac: dec.mac });
    },
    dispose: ({ key }) => key.fill(0),
  });
  return { values, config, files };
}
