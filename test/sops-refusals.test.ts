// The remaining SOPS refusal paths, one each: unsupported YAML shapes, encryption inputs.
import { describe, expect, it } from 'vitest';
import { ageKeyWrapper, encryptSops, parseSops } from '../enclave/sops/index.ts';
import { newAgeKey } from './sops-support.ts';

const META = `sops:
    age:
        - recipient: age1xyz
          enc: x
    lastmodified: "2026-11-23T10:26:17Z"
    mac: ""
    version: 3.12.2
`;

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('SOPS refusals', () => {
  it('refuses non-string keys, uint64 integers, sequence and scalar documents, unknown aliases', () => {
    const p = (t: string): unknown => parseSops(t, { format: 'yaml', fileName: 'r.yaml' });
    expect(code(() => p(`1: one\n${META}`))).toBe('SOPS_UNSUPPORTED');
    expect(code(() => p(`true: yes\n${META}`))).toBe('SOPS_UNSUPPORTED');
    expect(code(() => p(`big: 18446744073709551615\n${META}`))).toBe('SOPS_UNSUPPORTED');
    expect(code(() => p('- a\n- b\n'))).toBe('SOPS_UNSUPPORTED');
    expect(code(() => p('just a scalar\n'))).toBe('SOPS_UNSUPPORTED');
    expect(code(() => p(`a: *nowhere\n${META}`))).toBe('SOPS_MALFORMED');
    expect(code(() => p(`a: !!int notanumber\n${META}`))).toBe('SOPS_UNSUPPORTED');
    expect(code(() => p(`a: 1\n${META}${META}`))).toBe('SOPS_MALFORMED');
    expect(code(() => parseSops('[1]', { format: 'json', fileName: 'r.json' }))).toBe('SOPS_MALFORMED');
    expect(code(() => parseSops('{"a": 1e400}', { format: 'json', fileName: 'r.json' }))).toBe('SOPS_MALFORMED');
  });

  it('refuses bad regexes when decrypting them', async () => {
    const id = await newAgeKey();
    const enc = await encryptSops('a: 1\n', { format: 'yaml', keys: [ageKeyWrapper(id.recipient)], encryptedRegex: '^a$' });
    const { decryptSops, ageUnwrapper } = await import('../enclave/sops/index.ts');
    await expect(decryptSops(parseSops(enc.replace('encrypted_regex: "^a$"', 'encrypted_regex: "(unclosed"'), { format: 'yaml', fileName: 'r' }), ageUnwrapper([id.identity])))
      .rejects.toMatchObject({ code: 'SOPS_UNSUPPORTED' });
  });

  it('refuses to encrypt a reserved sops key, without master keys, with two rules, or for a bad recipient', async () => {
    const id = await newAgeKey();
    const keys = [ageKeyWrapper(id.recipient)];
    await expect(encryptSops('sops: 1\n', { format: 'yaml', keys })).rejects.toMatchObject({ code: 'SOPS_ENCRYPT_FAILED' });
    await expect(encryptSops('a: 1\n', { format: 'yaml', keys: [] })).rejects.toMatchObject({ code: 'SOPS_ENCRYPT_FAILED' });
    await expect(encryptSops('a: 1\n', { format: 'yaml', keys, encryptedRegex: 'a', unencryptedSuffix: '_x' })).rejects.toMatchObject({ code: 'SOPS_ENCRYPT_FAILED' });
    await expect(encryptSops('a: 1\n', { format: 'yaml', keys: [ageKeyWrapper('age1notarecipient')] })).rejects.toMatchObject({ code: 'SOPS_ENCRYPT_FAILED' });
  });
});
