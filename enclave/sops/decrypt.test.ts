import { describe, expect, it } from 'vitest';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { ageKeyWrapper, encryptSops } from './encrypt.ts';
import { decryptSops } from './decrypt.ts';
import { parseSops } from './document.ts';
import { ageOpener, keyGroupUnwrapper, type DataKeyUnwrapper } from './unwrap.ts';

/** Wraps an unwrapper and keeps a reference to every key it hands out. */
function spying(inner: DataKeyUnwrapper): { u: DataKeyUnwrapper; keys: Uint8Array[] } {
  const keys: Uint8Array[] = [];
  return {
    keys,
    u: {
      async unwrap(meta, fileName) {
        const k = await inner.unwrap(meta, fileName);
        keys.push(k);
        return k;
      },
    },
  };
}

describe('decryptSops', () => {
  it('overwrites the data key after success and after a refusal', async () => {
    const id = await generateIdentity();
    const text = await encryptSops('a: secret\n', { format: 'yaml', keys: [ageKeyWrapper(await identityToRecipient(id))] });
    const ok = spying(keyGroupUnwrapper(ageOpener([id])));
    expect((await decryptSops(parseSops(text, { format: 'yaml', fileName: 'f' }), ok.u)).data).toEqual({ a: 'secret' });
    expect(ok.keys[0]?.length).toBe(32);
    expect(ok.keys[0]?.every((b) => b === 0)).toBe(true);
    const bad = spying(keyGroupUnwrapper(ageOpener([id])));
    await expect(decryptSops(parseSops(text.replace(/lastmodified: "(\d)/, 'lastmodified: "1'), { format: 'yaml', fileName: 'f' }), bad.u)).rejects.toMatchObject({ code: 'SOPS_MAC_MISMATCH' });
    expect(bad.keys[0]?.every((b) => b === 0)).toBe(true);
  });
});
