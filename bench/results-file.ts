// bench/RESULTS.md: each benchmark owns one "## <name>" section and replaces only that one.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const RESULTS = new URL('RESULTS.md', import.meta.url);

/** Replace (or append) the `## <name>` section with `section` (which starts with that heading). */
export function writeResultsSection(name: string, section: string): void {
  let text = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : '# Benchmark results\n';
  const start = text.indexOf(`\n## ${name}\n`);
  if (start >= 0) {
    const next = text.indexOf('\n## ', start + 1);
    text = text.slice(0, start + 1) + section + (next >= 0 ? `\n${text.slice(next + 1)}` : '');
  } else {
    text = `${text.trimEnd()}\n\n${section}`;
  }
  writeFileSync(RESULTS, text.endsWith('\n') ? text : `${text}\n`);
  console.log(`wrote the "## ${name}" section of ${fileURLToPath(RESULTS)}`);
}
