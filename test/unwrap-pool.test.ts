// Concurrent data-key unwrapping (enclave/unwrap-pool.ts through resolveIdentitySecrets)
// and the per-pack RecipientSession (enclave/kms.ts), against a fake KMS whose behaviour is
// chosen per file through the encryption context each file was encrypted with.
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { encryptSops, kmsKeyWrapper, kmsUnwrapper, type KmsDecryptFn } from '../enclave/sops/index.ts';
import { parseClefManifest, resolveIdentitySecrets } from '../enclave/clef/index.ts';
import { dedupKmsDecrypt, runInOrder, checkConcurrency, DEFAULT_UNWRAP_CONCURRENCY } from '../enclave/unwrap-pool.ts';
import { RecipientSession, generateRecipientKey } from '../enclave/kms.ts';
import type { Nsm } from '../enclave/nsm/nsm.ts';

const ARN = 'arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555';
const MASK = 0x5a;

/** Fake KMS Encrypt: a random 16-byte id, then the data key XOR MASK. */
async function fakeEncrypt(req: { plaintext: Uint8Array }): Promise<Uint8Array> {
  return Buffer.concat([randomBytes(16), Buffer.from(req.plaintext.map((b) => b ^ MASK))]);
}

function manifest(namespaces: string[]) {
  return parseClefManifest(
    [
      'version: 1',
      'environments:',
      '  - {name: prod, description: Prod}',
      'namespaces:',
      ...namespaces.map((n) => `  - {name: ${n}, description: ${n}}`),
      'sops: {default_backend: awskms}',
      'file_pattern: "secrets/{namespace}/{environment}.enc.yaml"',
      'service_identities:',
      '  - name: api',
      `    namespaces: [${namespaces.join(', ')}]`,
      '    environments:',
      `      prod: {kms: {provider: aws, keyId: "${ARN}"}}`,
      '',
    ].join('\n'),
  );
}

/** One SOPS file per namespace; its KMS context names the namespace (the fake KMS reads it). */
async function repo(namespaces: string[], copies: Record<string, string> = {}): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const ns of namespaces) {
    const path = `secrets/${ns}/prod.enc.yaml`;
    const source = copies[ns];
    if (source !== undefined) {
      files.set(path, files.get(`secrets/${source}/prod.enc.yaml`) as string);
      continue;
    }
    const plain = `VALUE: "${ns}-secret"\nOTHER: "${ns}-other"\n`;
    files.set(path, await encryptSops(plain, { format: 'yaml', fileName: path, keys: [kmsKeyWrapper({ arn: ARN, context: { ns }, encrypt: fakeEncrypt })] }));
  }
  return files;
}

interface FakeKms {
  decrypt: KmsDecryptFn;
  calls: string[];
  maxInFlight: number;
  returned: Uint8Array[];
}

/** Fake KMS Decrypt; `behave(ns)` may delay or fail the call for one file. */
function fakeKms(behave: (ns: string) => { delayMs?: number; fail?: string } = () => ({})): FakeKms {
  let inFlight = 0;
  const kms: FakeKms = {
    calls: [],
    maxInFlight: 0,
    returned: [],
    decrypt: async ({ ciphertextBlob, encryptionContext }) => {
      const ns = encryptionContext.ns as string;
      kms.calls.push(ns);
      inFlight += 1;
      kms.maxInFlight = Math.max(kms.maxInFlight, inFlight);
      try {
        const b = behave(ns);
        await sleep(b.delayMs ?? 2);
        if (b.fail !== undefined) throw new Error(b.fail);
        const key = new Uint8Array(ciphertextBlob.subarray(16).map((x) => x ^ MASK));
        kms.returned.push(key);
        return key;
      } finally {
        inFlight -= 1;
      }
    },
  };
  return kms;
}

async function resolve(namespaces: string[], files: Map<string, string>, decrypt: KmsDecryptFn, concurrency?: number) {
  return resolveIdentitySecrets({
    manifest: manifest(namespaces),
    identity: 'api',
    environment: 'prod',
    readFile: async (p) => files.get(p),
    unwrapper: kmsUnwrapper(decrypt),
    ...(concurrency === undefined ? {} : { concurrency }),
  });
}

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; fileName?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string; fileName?: string };
  }
  throw new Error('expected a rejection');
}

const names = (n: number) => Array.from({ length: n }, (_, i) => `ns${String(i).padStart(2, '0')}`);

describe('concurrent unwrapping', () => {
  it('unwraps with at most `concurrency` KMS calls in flight and resolves every value in manifest order', async () => {
    const ns = names(12);
    const files = await repo(ns);
    for (const concurrency of [1, 4]) {
      const kms = fakeKms(() => ({ delayMs: 5 }));
      const r = await resolve(ns, files, kms.decrypt, concurrency);
      expect(kms.maxInFlight).toBe(concurrency);
      expect(Object.keys(r.values)).toEqual(ns);
      expect(r.files.map((f) => f.namespace)).toEqual(ns);
      for (const n of ns) expect(r.values[n]).toEqual({ VALUE: `${n}-secret`, OTHER: `${n}-other` });
    }
    expect(DEFAULT_UNWRAP_CONCURRENCY).toBe(16);
  });

  it('identical wrapped keys (same key ARN, ciphertext and context) cost one KMS call per pack', async () => {
    const ns = ['alpha', 'beta', 'gamma', 'delta'];
    const files = await repo(ns, { gamma: 'alpha', delta: 'alpha' });
    const kms = fakeKms();
    const dedup = dedupKmsDecrypt(kms.decrypt);
    const r = await resolve(ns, files, dedup);
    expect(kms.calls.sort()).toEqual(['alpha', 'beta']);
    expect(dedup.calls()).toBe(2);
    expect(r.values.gamma).toEqual({ VALUE: 'alpha-secret', OTHER: 'alpha-other' });
    expect(r.values.delta).toEqual(r.values.gamma);
    // Every caller got its own copy (callers zero theirs); clear() zeroes the shared ones.
    dedup.clear();
    expect(kms.returned.every((k) => k.every((b) => b === 0))).toBe(true);
  });

  it('the same ciphertext under another encryption context is another KMS call', async () => {
    const kms = fakeKms();
    const dedup = dedupKmsDecrypt(kms.decrypt);
    const blob = await fakeEncrypt({ plaintext: randomBytes(32) });
    await dedup({ keyArn: ARN, ciphertextBlob: blob, encryptionContext: { ns: 'a' } });
    await dedup({ keyArn: ARN, ciphertextBlob: blob, encryptionContext: { ns: 'a' } });
    await dedup({ keyArn: ARN, ciphertextBlob: blob, encryptionContext: { ns: 'b' } });
    await dedup({ keyArn: `${ARN}0`, ciphertextBlob: blob, encryptionContext: { ns: 'b' } });
    expect(kms.calls).toEqual(['a', 'b', 'b']);
  });

  it('names the first failing file in file order, not the first to fail in time, and zeroes every key it got', async () => {
    const ns = names(8);
    const files = await repo(ns);
    // ns01 fails late, ns03 fails at once: a sequential pack would have named ns01.
    const kms = fakeKms((n) => (n === 'ns01' ? { delayMs: 40, fail: 'AccessDeniedException: slow' } : n === 'ns03' ? { delayMs: 0, fail: 'AccessDeniedException: fast' } : {}));
    const e = await rejection(resolve(ns, files, kms.decrypt, 8));
    expect(e.code).toBe('SOPS_NO_DATA_KEY');
    expect(e.fileName).toBe('secrets/ns01/prod.enc.yaml');
    expect(e.message).toContain('slow');
    expect(kms.returned.length).toBeGreaterThan(0);
    expect(kms.returned.every((k) => k.every((b) => b === 0))).toBe(true);
  });

  it('a KMS failure in an earlier file wins over a parse error in a later one, and vice versa', async () => {
    const ns = names(4);
    const files = await repo(ns);
    files.set('secrets/ns02/prod.enc.yaml', 'not: [valid');
    const failing = fakeKms((n) => (n === 'ns01' ? { fail: 'AccessDeniedException' } : {}));
    expect((await rejection(resolve(ns, files, failing.decrypt))).fileName).toBe('secrets/ns01/prod.enc.yaml');
    const ok = fakeKms();
    const e = await rejection(resolve(ns, files, ok.decrypt));
    expect(e.message).toContain('secrets/ns02/prod.enc.yaml');
    // Nothing past the unreadable file is unwrapped.
    expect(ok.calls.sort()).toEqual(['ns00', 'ns01']);
  });

  it('starts no task past a failure once it is known; every started task settles before the refusal', async () => {
    const started: number[] = [];
    let settled = 0;
    const e = await rejection(
      runInOrder<number>({
        count: 10,
        concurrency: 1,
        async task(i) {
          started.push(i);
          await sleep(1);
          settled += 1;
          if (i === 2) throw new Error('boom at 2');
          return i;
        },
        consume: () => undefined,
        dispose: () => undefined,
      }),
    );
    expect(e.message).toBe('boom at 2');
    expect(started).toEqual([0, 1, 2]);
    expect(settled).toBe(3);
  });

  it('a failure while using a result (MAC check) is reported in order; later results are still disposed', async () => {
    const consumed: number[] = [];
    const disposed: number[] = [];
    const e = await rejection(
      runInOrder<number>({
        count: 5,
        task: async (i) => (i === 4 ? Promise.reject(new Error('late task failure')) : i),
        consume: (i) => {
          if (i === 1) throw new Error('consume failed at 1');
          consumed.push(i);
        },
        dispose: (v) => disposed.push(v),
      }),
    );
    expect(e.message).toBe('consume failed at 1');
    expect(consumed).toEqual([0]);
    expect(disposed.sort()).toEqual([0, 1, 2, 3]);
  });

  it('refuses a concurrency outside 1..64', () => {
    for (const bad of [0, -1, 65, 1.5, Number.NaN]) expect(() => checkConcurrency(bad)).toThrow(RangeError);
    expect(checkConcurrency(undefined)).toBe(16);
  });
});

/** An NSM whose documents are just a counter plus the public key (enough for the session). */
function countingNsm(): Nsm & { count: number; keys: Uint8Array[] } {
  const nsm = {
    kind: 'simulated' as const,
    count: 0,
    keys: [] as Uint8Array[],
    async attest(req: { publicKey?: Uint8Array | null }) {
      nsm.count += 1;
      nsm.keys.push(req.publicKey as Uint8Array);
      await sleep(1);
      return Uint8Array.of(nsm.count);
    },
    describePcrs: async () => new Map<number, Uint8Array>(),
    getRandom: async (n: number) => new Uint8Array(n),
  };
  return nsm;
}

describe('RecipientSession', () => {
  it('one document per pack, bound to the session key, shared by every Recipient call', async () => {
    const nsm = countingNsm();
    const key = await generateRecipientKey();
    const session = await RecipientSession.open(nsm, key);
    const docs = await Promise.all(Array.from({ length: 20 }, () => session.document()));
    expect(nsm.count).toBe(1);
    expect(session.attestations).toBe(1);
    expect(docs.every((d) => d[0] === 1)).toBe(true);
    expect(Buffer.from(nsm.keys[0] as Uint8Array).equals(Buffer.from(key.spki))).toBe(true);
    expect(Buffer.from(session.publicKeySpki).equals(Buffer.from(key.spki))).toBe(true);
    // A second pack gets its own document.
    await RecipientSession.open(nsm, key);
    expect(nsm.count).toBe(2);
  });

  it('a pack running longer than the bound gets one new document (concurrent callers share the refresh)', async () => {
    const nsm = countingNsm();
    let t = 0;
    const session = await RecipientSession.open(nsm, await generateRecipientKey(), { refreshAfterMs: 1000, now: () => t });
    t = 999;
    expect((await session.document())[0]).toBe(1);
    t = 1000;
    const docs = await Promise.all([session.document(), session.document(), session.document()]);
    expect(docs.map((d) => d[0])).toEqual([2, 2, 2]);
    expect(session.attestations).toBe(2);
    expect(session.attestationDocument()).toEqual(Uint8Array.of(2));
    // attestationDocument() is a copy: changing it does not change what KMS is sent.
    session.attestationDocument().fill(9);
    expect((await session.document())[0]).toBe(2);
    expect(nsm.keys.every((k) => Buffer.from(k).equals(Buffer.from(nsm.keys[0] as Uint8Array)))).toBe(true);
  });
});
