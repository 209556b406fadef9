// A parsed (still encrypted) SOPS file: its branches without the `sops` key, and the
// metadata. Parsing applies the limits and refuses anything sops itself would refuse.
import { loadDotenvFile } from './dotenv-store.ts';
import { SopsError } from './errors.ts';
import { goJsonString } from './go-format.ts';
import { loadIniFile } from './ini-store.ts';
import { parseJsonBranches } from './json-store.ts';
import { parseMetadata, type SopsMetadata } from './metadata.ts';
import { DEFAULT_LIMITS, type SopsBranch, type SopsLimits, type SopsMapItem, type SopsNode } from './tree.ts';
import { parseYamlBranches } from './yaml-store.ts';

/** sops' stores: `binary` files are a JSON envelope with one `data` string. */
export type SopsFormat = 'yaml' | 'json' | 'dotenv' | 'ini' | 'binary';

/** Formats `encryptSops` writes. */
export type SopsWriteFormat = 'yaml' | 'json';

export interface ParsedSops {
  readonly format: SopsFormat;
  readonly fileName: string;
  readonly branches: readonly SopsBranch[];
  readonly metadata: SopsMetadata;
}

export interface ParseSopsOptions {
  format: SopsFormat;
  /** Used in every error message; never read from disk. */
  fileName: string;
  limits?: Partial<SopsLimits>;
}

/**
 * The format sops reads a file as (cmd/sops/formats FormatForPath; Clef passes no
 * --input-type, so sops decides): .yaml/.yml, .json, .env, .ini, anything else binary.
 */
export function formatForFileName(fileName: string): SopsFormat {
  if (fileName.endsWith('.yaml') || fileName.endsWith('.yml')) return 'yaml';
  if (fileName.endsWith('.json')) return 'json';
  if (fileName.endsWith('.env')) return 'dotenv';
  if (fileName.endsWith('.ini')) return 'ini';
  return 'binary';
}

/** Plaintext YAML or JSON (what `encryptSops` takes). */
export function parsePlainBranches(text: string, format: SopsWriteFormat, fileName: string, limits: SopsLimits): SopsBranch[] {
  return format === 'json' ? parseJsonBranches(text, fileName, limits) : parseYamlBranches(text, fileName, limits);
}

/** Documents and the `sops` entry (from the first document, once), as sops' ExtractMetadata. */
function loadTreeFormat(text: string, format: 'yaml' | 'json' | 'binary', fileName: string, limits: SopsLimits): { branches: SopsBranch[]; metaNode: SopsNode } {
  const raw = format === 'yaml' ? parseYamlBranches(text, fileName, limits) : parseJsonBranches(text, fileName, limits);
  let metaNode: SopsNode | undefined;
  const branches: SopsBranch[] = raw.map((b, bi) => {
    const items: SopsMapItem[] = [];
    for (const it of b.items) {
      if ('key' in it && it.key === 'sops') {
        if (bi === 0) {
          if (metaNode !== undefined) throw new SopsError('SOPS_METADATA_INVALID', 'found duplicate sops entry', { fileName });
          metaNode = it.value;
        }
        continue;
      }
      items.push(it);
    }
    return { kind: 'map', items };
  });
  if (metaNode === undefined) throw new SopsError('SOPS_METADATA_INVALID', 'sops metadata not found (is this file encrypted with sops?)', { fileName });
  return { branches, metaNode };
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * File bytes to text as sops' reader for the format sees them: Go's JSON decoder turns each
 * invalid byte into U+FFFD; go-yaml refuses invalid UTF-8; dotenv and ini values would keep
 * raw bytes, which we refuse rather than carry through every key and value.
 */
function decodeFile(bytes: Uint8Array, format: SopsFormat, fileName: string, limits: SopsLimits): string {
  if (bytes.length > limits.maxBytes) throw new SopsError('SOPS_INPUT_TOO_LARGE', `file larger than ${limits.maxBytes} bytes`, { fileName });
  if (format === 'json' || format === 'binary') return goJsonString(bytes);
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    throw new SopsError(format === 'yaml' ? 'SOPS_MALFORMED' : 'SOPS_UNSUPPORTED', `file is not valid UTF-8`, { fileName });
  }
}

/**
 * Parse a SOPS file. Pass the file's bytes where there are any: text decoded by the caller
 * may already have lost what sops would refuse (invalid UTF-8 in YAML).
 */
export function parseSops(input: string | Uint8Array, options: ParseSopsOptions): ParsedSops {
  const limits: SopsLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const { fileName, format } = options;
  const text = typeof input === 'string' ? input : decodeFile(input, format, fileName, limits);
  let loaded: { branches: SopsBranch[]; metaNode: SopsNode };
  if (format === 'dotenv' || format === 'ini') {
    const f = format === 'dotenv' ? loadDotenvFile(text, fileName, limits) : loadIniFile(text, fileName, limits);
    loaded = { branches: f.branches, metaNode: f.metadata };
  } else {
    loaded = loadTreeFormat(text, format, fileName, limits);
  }
  const metadata = parseMetadata(loaded.metaNode, { fileName });
  return { format, fileName, branches: loaded.branches, metadata };
}
