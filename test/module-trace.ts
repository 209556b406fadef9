// Runs bin/attested-pack in a child process with a module-resolution hook that records
// every module URL the process loads (ESM imports, and the entry point of every npm
// package reached through them), so tests can assert what a command does NOT load.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/attested-pack', import.meta.url));

const HOOKS = `import { appendFileSync } from 'node:fs';
let file;
export function initialize(data) { file = data.file; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(file, r.url + '\\n');
  return r;
}
`;

export interface TracedRun {
  code: number;
  stdout: string;
  stderr: string;
  /** Every resolved module URL (node: built-ins included), in load order, deduplicated. */
  modules: string[];
}

export async function runTraced(argv: string[], cwd: string): Promise<TracedRun> {
  const dir = mkdtempSync(join(tmpdir(), 'ap-trace-'));
  try {
    const traceFile = join(dir, 'modules.txt');
    writeFileSync(traceFile, '');
    writeFileSync(join(dir, 'hooks.mjs'), HOOKS);
    writeFileSync(
      join(dir, 'register.mjs'),
      `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)}, { data: { file: ${JSON.stringify(traceFile)} } });\n`,
    );
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(process.execPath, ['--import', pathToFileURL(join(dir, 'register.mjs')).href, BIN, ...argv], { cwd, encoding: 'utf8' }, (e, stdout, stderr) => {
        done({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : -1, stdout, stderr });
      });
    });
    const modules = [...new Set(readFileSync(traceFile, 'utf8').split('\n').filter((l) => l !== ''))];
    return { ...r, modules };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
