// dotenv SOPS files, as sops v3.12's stores/dotenv reads them: lines split at '\n' only (a
// '\r' stays in the value), empty lines skipped, a line starting with '#' is a comment,
// anything else is KEY=VALUE split at the first '=', with no trimming and `\n` in the value
// read as a newline. Every value is a string. Keys starting with `sops_` are the
// flattened metadata, wherever they appear. Duplicate keys are refused (sops keeps both,
// and the YAML Clef then reads from `sops -d` has a duplicate key).
import { SopsError } from './errors.ts';
import { unflattenMetadata } from './flat-metadata.ts';
import { str, type SopsBranch, type SopsLimits, type SopsMap, type SopsMapItem } from './tree.ts';

const META_PREFIX = 'sops_';

export interface LoadedEncrypted {
  branches: SopsBranch[];
  metadata: SopsMap;
}

export function loadDotenvFile(text: string, fileName: string, limits: SopsLimits): LoadedEncrypted {
  const where = { fileName };
  if (Buffer.byteLength(text, 'utf8') > limits.maxBytes) {
    throw new SopsError('SOPS_INPUT_TOO_LARGE', `file larger than ${limits.maxBytes} bytes`, where);
  }
  const items: SopsMapItem[] = [];
  const flat: Array<[string, string]> = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  for (const [n, line] of lines.entries()) {
    if (line === '') continue;
    if (items.length + flat.length >= limits.maxValues) {
      throw new SopsError('SOPS_INPUT_TOO_LARGE', `more than ${limits.maxValues} values`, where);
    }
    if (line.startsWith('#')) {
      items.push({ comment: { kind: 'comment', text: line.slice(1) } });
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw new SopsError('SOPS_MALFORMED', `invalid dotenv line ${n + 1}: no '='`, where);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1).replaceAll('\\n', '\n');
    if (seen.has(key)) throw new SopsError('SOPS_MALFORMED', `duplicate key '${key}' at line ${n + 1}`, where);
    seen.add(key);
    if (key.startsWith(META_PREFIX)) flat.push([key.slice(META_PREFIX.length), line.slice(eq + 1)]);
    else items.push({ key, value: str(value) });
  }
  return { branches: [{ kind: 'map', items }], metadata: unflattenMetadata(flat, where) };
}
