// Artifacts packed with bindEncryptionContext cannot be opened by Clef's runtime (it calls
// KMS Decrypt without a context). The README's compatibility claim, the AWS guide and
// `open --help` must say so wherever they mention the option.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli-support.ts';

const read = (path: string): string => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

describe('bindEncryptionContext is documented as unreadable by Clef’s runtime', () => {
  it('the README qualifies "Existing Clef runtimes read the artifacts unchanged"', () => {
    const readme = read('README.md');
    const claim = readme.indexOf('Existing Clef runtimes read the artifacts');
    expect(claim).toBeGreaterThanOrEqual(0);
    const paragraph = readme.slice(claim, readme.indexOf('\n\n', claim));
    expect(paragraph).toMatch(/bindEncryptionContext/);
    expect(paragraph).toMatch(/cannot open/);
  });

  it.each(['docs/aws-guide.md', 'enclave/clef/README.md'])('%s says so', (path) => {
    expect(read(path)).toMatch(/bindEncryptionContext[\s\S]{0,300}(cannot open|cannot unwrap)|Clef's runtime[\s\S]{0,200}cannot (open|unwrap)/);
  });

  it('open --help says Clef’s runtime cannot open such artifacts', async () => {
    const r = await runCli(['open', '--help']);
    expect(r.out).toMatch(/bindEncryptionContext=true,\s+which Clef's own runtime cannot open/);
  });
});
