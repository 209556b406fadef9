// Hand-made SOPS files for cases the real sops never writes (a `bytes` value, a chosen
// time text): values encrypted with a known data key, the MAC computed over the bytes we
// choose, the key wrapped for an age recipient so the real sops can be asked about them.
import { randomBytes } from 'node:crypto';
import { ageKeyWrapper } from '../enclave/sops/encrypt.ts';
import { encryptValue, type EncType } from '../enclave/sops/cipher.ts';
import { MacBuilder } from '../enclave/sops/mac.ts';
import { metadataNode } from '../enclave/sops/metadata.ts';
import { str, type SopsMapItem } from '../enclave/sops/tree.ts';
import { emitYamlBranches } from '../enclave/sops/yaml-store.ts';

export interface CraftedValue {
  key: string;
  type: EncType;
  /** Plaintext bytes as encrypted. */
  plain: Uint8Array | string;
  /** Bytes the MAC is fed for this value (default: `plain`); omit from the MAC with null. */
  mac?: Uint8Array | string | null;
}

/** A one-document YAML SOPS file with top-level encrypted values. */
export async function craftYaml(values: CraftedValue[], recipient: string, lastModified = '2026-01-01T00:00:00Z'): Promise<string> {
  const key = randomBytes(32);
  const mac = new MacBuilder(false);
  const items: SopsMapItem[] = values.map((v) => {
    const m = v.mac === undefined ? v.plain : v.mac;
    if (m !== null) mac.add(true, m);
    return { key: v.key, value: str(encryptValue(v.type, v.plain, key, `${v.key}:`)) };
  });
  const enc = await ageKeyWrapper(recipient).wrap(key);
  const meta = metadataNode({
    keyGroups: [[enc]], shamirThreshold: 0, lastModified, lastModifiedCanonical: lastModified,
    mac: encryptValue('str', mac.hex(), key, lastModified), macOnlyEncrypted: false, version: '3.12.2',
    unencryptedSuffix: '_unencrypted',
  });
  return emitYamlBranches([{ kind: 'map', items: [...items, { key: 'sops', value: meta }] }]);
}
