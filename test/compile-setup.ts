// vitest globalSetup: compile the sources to JavaScript before any test runs, so tests
// that spawn bin/attested-pack (which runs the compiled JavaScript) never run a stale
// build. esbuild does it in about a second (scripts/compile.mjs).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  execFileSync(process.execPath, [fileURLToPath(new URL('../scripts/compile.mjs', import.meta.url))], { stdio: ['ignore', 'ignore', 'inherit'] });
}
