// Differential test of scalar typing and canonical plaintexts: the real sops encrypts a
// file of tricky YAML and JSON scalars; for every leaf, the ENC type sops chose and the
// plaintext it encrypted must equal what our parser assigns to the same source text.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ageUnwrapper, decryptSops, parseSops, type SopsWriteFormat } from '../enclave/sops/index.ts';
import { parsePlainBranches } from '../enclave/sops/document.ts';
import { DEFAULT_LIMITS, type SopsNode } from '../enclave/sops/tree.ts';
import { newAgeKey, runSops, scratch, type AgeKeyPair, type Scratch } from './sops-support.ts';

const YAML_SCALARS = [
  'd1: 2024-01-02', 'd2: 2024-1-2 3:04:05', 'd3: 2024-01-02T03:04:05.120+02:00', 'd4: 2024-01-02t03:04:05Z',
  'd5: 2024-01-02T03:04:05.000000001-00:00', 'd6: 2024-02-30', 'h: 0x1F', 'o: 0o17', 'o2: 0755', 'o3: 08', 'u: 1_000',
  'n: -42', 'p: +7', 'big: 99999999999999999999', 'negbig: -99999999999999999999', 'f1: 1.0', 'f2: 1e3', 'f3: .inf',
  'f4: -.Inf', 'f5: 0.000001', 'f6: .5', 'f7: 1.', 'f8: 6.02e23', 'f9: 1e400', 'f10: -0.0', 'f11: .NaN', 'f12: 0.1e-7',
  'b1: yes', 'b2: True', 'b3: FALSE', 'b4: on', 'n1: ~', 'n2: Null', 's1: \'123\'', 's2: "true"', 't1: !!str 12',
  't2: !!float 3', 't3: !!int "12"', 't4: !!binary aGVsbG8=', 't5: !custom thing', 'e1: ENC-lookalike',
  'bin: 0b101', 'x: 12:30', 'v: 1.2.3', 'dot: .', 'plus: +1e5', 'd7: 2024-01-02T03:04:05,5Z',
  'd8: 2024-01-02T03:04:05.1234567891Z', 'd9: 2024-01-02 03:04:05,25',
].join('\n');

const JSON_SCALARS = '{"a": 1, "b": 1.0, "c": 1e21, "d": -0, "e": 0.1, "f": 123456789012345678, "g": 5e-324, "h": true, "i": "x"}';

let s: Scratch;
let key: AgeKeyPair;
beforeAll(async () => {
  s = scratch();
  key = await newAgeKey();
});
afterAll(() => s.cleanup());

function leaves(n: SopsNode, out: Array<[string, string]> = []): Array<[string, string]> {
  if (n.kind === 'leaf') out.push([n.type, n.text]);
  else if (n.kind === 'map') for (const it of n.items) { if ('key' in it) leaves(it.value, out); }
  else if (n.kind === 'list') for (const it of n.items) leaves(it, out);
  return out;
}

async function compare(text: string, format: SopsWriteFormat): Promise<void> {
  const p = s.write(`scalars.${format}`, text);
  const r = runSops(['encrypt', '--age', key.recipient, p], { cwd: s.dir });
  expect(r.stderr).toBe('');
  const parsed = parseSops(r.stdout, { format, fileName: `scalars.${format}` });
  // The type sops chose, read straight from each ENC[...] marker.
  const sopsTypes = [...r.stdout.matchAll(/^\S+: ENC\[AES256_GCM,.*type:(\w+)\]$/gm)].map((m) => m[1]);
  const theirs = leaves((await decryptSops(parsed, ageUnwrapper([key.identity]))).branches[0] ?? { kind: 'null' });
  const mine = leaves(parsePlainBranches(text, format, 'plain', DEFAULT_LIMITS)[0] ?? { kind: 'null' });
  expect(mine).toEqual(theirs);
  if (format === 'yaml') expect(mine.map(([t]) => t)).toEqual(sopsTypes);
}

describe('scalar typing matches sops 3.12.2', () => {
  it('YAML scalars', async () => compare(`${YAML_SCALARS}\n`, 'yaml'));
  it('JSON numbers are floats, formatted like Go', async () => compare(JSON_SCALARS, 'json'));
});
