// A parsed (still encrypted) SOPS file: its branches without the `sops` key, and the
// metadata. Parsing applies the limits and refuses anything sops itself would refuse.
import { SopsError } from './errors.ts';
import { parseJsonBranches } from './json-store.ts';
import { parseMetadata, type SopsMetadata } from './metadata.ts';
import { DEFAULT_LIMITS, type SopsBranch, type SopsLimits, type SopsMapItem, type SopsNode } from './tree.ts';
import { parseYamlBranches } from './yaml-store.ts';

export type SopsFormat = 'yaml' | 'json';

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

/** The format Clef uses for a file (`formatFromPath`: ends with `.json` → json, else yaml). */
export function formatForFileName(fileName: string): SopsFormat {
  return fileName.endsWith('.json') ? 'json' : 'yaml';
}

export function parsePlainBranches(text: string, format: SopsFormat, fileName: string, limits: SopsLimits): SopsBranch[] {
  return format === 'json' ? parseJsonBranches(text, fileName, limits) : parseYamlBranches(text, fileName, limits);
}

export function parseSops(text: string, options: ParseSopsOptions): ParsedSops {
  const limits: SopsLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const { fileName, format } = options;
  const raw = parsePlainBranches(text, format, fileName, limits);
  let metaNode: SopsNode | undefined;
  const branches: SopsBranch[] = raw.map((b, bi) => {
    const items: SopsMapItem[] = [];
    for (const it of b.items) {
      if ('key' in it && it.key === 'sops') {
        // Like sops' ExtractMetadata: only the first document's entry counts, once.
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
  const metadata = parseMetadata(metaNode, { fileName });
  return { format, fileName, branches, metadata };
}
