// reproducible/inputs.lock.json: every image input that is not in this repository, pinned
// by digest. Parsed strictly: a lock that does not say exactly what to fetch is an error.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildFail } from '../build/errors.ts';
import { parseStrictJson } from '../verifier/strict-json.ts';

export const INPUTS_LOCK_SCHEMA = 'attested-pack/inputs-lock/v1';

export interface DebFile {
  from: string;
  to: string;
  mode: number;
  /**
   * The packaged file is xz-compressed (Debian ships kernel modules as .ko.xz); the image
   * takes the decompressed bytes, which must then have exactly this SHA-384. Both or neither.
   */
  xz?: { sha384: string };
}
export interface PinnedDeb {
  package: string;
  version: string;
  sha256: string;
  /** rootfs: files go into the image root; dev-blobs: into the development blob set. */
  use: 'rootfs' | 'dev-blobs';
  files: DebFile[];
}
export interface InputsLock {
  sourceDateEpoch: number;
  nodeRuntime: { package: string; version: string; binary: string; sha384: string };
  debs: PinnedDeb[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function text(o: Record<string, unknown>, k: string, where: string, re?: RegExp): string {
  const v = o[k];
  if (typeof v !== 'string' || v === '' || (re !== undefined && !re.test(v))) buildFail('LOCK_MALFORMED', `${where}.${k} is missing or malformed`);
  return v;
}
const REL_PATH = /^(?!\/)(?!.*(?:^|\/)\.\.?(?:\/|$))[A-Za-z0-9._+\-/]+$/;

export function parseInputsLock(input: string): InputsLock {
  let raw: unknown;
  try {
    raw = parseStrictJson(input);
  } catch (e) {
    buildFail('LOCK_MALFORMED', `inputs lock is not strict JSON: ${(e as Error).message}`);
  }
  if (!isRecord(raw) || raw.schema !== INPUTS_LOCK_SCHEMA) buildFail('LOCK_MALFORMED', `inputs lock schema must be ${INPUTS_LOCK_SCHEMA}`);
  const epoch = raw.sourceDateEpoch;
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 0) buildFail('LOCK_MALFORMED', 'sourceDateEpoch must be a non-negative integer');
  const nr = raw.nodeRuntime;
  if (!isRecord(nr)) buildFail('LOCK_MALFORMED', 'nodeRuntime must be an object');
  if (!Array.isArray(raw.debs)) buildFail('LOCK_MALFORMED', 'debs must be an array');
  const debs = raw.debs.map((d: unknown, i): PinnedDeb => {
    if (!isRecord(d) || !Array.isArray(d.files)) buildFail('LOCK_MALFORMED', `debs[${i}] must be an object with files`);
    const use = d.use;
    if (use !== 'rootfs' && use !== 'dev-blobs') buildFail('LOCK_MALFORMED', `debs[${i}].use must be rootfs or dev-blobs`);
    return {
      package: text(d, 'package', `debs[${i}]`, /^[a-z0-9][a-z0-9+.-]+$/),
      version: text(d, 'version', `debs[${i}]`, /^[A-Za-z0-9.+~:-]+$/),
      sha256: text(d, 'sha256', `debs[${i}]`, /^[0-9a-f]{64}$/),
      use,
      files: d.files.map((f: unknown, j): DebFile => {
        if (!isRecord(f)) buildFail('LOCK_MALFORMED', `debs[${i}].files[${j}] must be an object`);
        const where = `debs[${i}].files[${j}]`;
        const mode = text(f, 'mode', where, /^0[0-7]{3}$/);
        const known = new Set(['from', 'to', 'mode', 'decompress', 'sha384']);
        const unknown = Object.keys(f).find((k) => !known.has(k));
        if (unknown !== undefined) buildFail('LOCK_MALFORMED', `${where} has an unknown key ${JSON.stringify(unknown)}`);
        const file: DebFile = { from: text(f, 'from', where, REL_PATH), to: text(f, 'to', where, REL_PATH), mode: parseInt(mode, 8) };
        if ('decompress' in f || 'sha384' in f) {
          text(f, 'decompress', where, /^xz$/);
          file.xz = { sha384: text(f, 'sha384', where, /^[0-9a-f]{96}$/) };
        }
        return file;
      }),
    };
  });
  return {
    sourceDateEpoch: epoch,
    nodeRuntime: {
      package: text(nr, 'package', 'nodeRuntime'),
      version: text(nr, 'version', 'nodeRuntime'),
      binary: text(nr, 'binary', 'nodeRuntime', REL_PATH),
      sha384: text(nr, 'sha384', 'nodeRuntime', /^[0-9a-f]{96}$/),
    },
    debs,
  };
}

export function loadInputsLock(sourceRoot: string): InputsLock {
  const path = join(sourceRoot, 'reproducible', 'inputs.lock.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    buildFail('LOCK_MALFORMED', `cannot read ${path}: ${(e as Error).message}`);
  }
  return parseInputsLock(text);
}
