import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCa } from './attestation-issuer.ts';
import { verifyAttestationDocument } from '../verifier/index.ts';

const pcrs = new Map([[0, new Uint8Array(48).fill(7)]]);

describe('simulated CA kept in a state directory', () => {
  it('a second CA loaded from the same directory issues documents that chain to the same root', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-ca-'));
    const first = await createTestCa({ stateDir: dir });
    const second = await createTestCa({ stateDir: dir });
    expect(Buffer.from(second.rootDer).equals(Buffer.from(first.rootDer))).toBe(true);
    const doc = await second.issue({ pcrs });
    const v = verifyAttestationDocument(doc, { root: first.rootDer, pcrs: { expected: pcrs } });
    expect(v.trust.kind).toBe('simulated');
    // A CA without the directory is another root: its documents do not chain to the first.
    const other = await createTestCa();
    const foreign = await other.issue({ pcrs });
    expect(() => verifyAttestationDocument(foreign, { root: first.rootDer, pcrs: { expected: pcrs } })).toThrow(
      expect.objectContaining({ code: 'CHAIN_UNTRUSTED_ROOT' }),
    );
  });

  it('refuses a corrupt state file instead of silently making a new CA', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-ca-'));
    await createTestCa({ stateDir: dir });
    const file = join(dir, 'simulated-ca.json');
    const state = JSON.parse(readFileSync(file, 'utf8')) as { root: { keyPkcs8: string } };
    state.root.keyPkcs8 = 'AAAA';
    writeFileSync(file, JSON.stringify(state));
    await expect(createTestCa({ stateDir: dir })).rejects.toThrow(/not a usable simulated CA/);
    writeFileSync(file, '{"schema":"something-else"}');
    await expect(createTestCa({ stateDir: dir })).rejects.toThrow(/unknown schema/);
  });
});
