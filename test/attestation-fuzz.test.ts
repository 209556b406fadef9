// Mutation fuzzing over the real AWS documents (deterministic, seeded). Two properties:
// 1. No mutated document whose signed bytes (protected header, payload, signature)
//    changed is ever accepted.
// 2. Every refusal is a VerificationError with a known code — never another exception.
// The signed bytes of an accepted mutation are compared with the original's as read by an
// independent decoder (cbor-x), not by the parser under test.
import { readFileSync } from 'node:fs';
import { Decoder, Tag } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import {
  isVerificationError,
  parseAttestationDocument,
  VERIFY_ERROR_CODES,
  verifyAttestationDocument,
} from '../verifier/index.ts';
import { encode, IndefiniteMap, Raw, Tagged, type Encodable } from '../verifier/test-documents.ts';

const FIXTURES = new URL('./fixtures/nitro/', import.meta.url);
const INDEX = JSON.parse(readFileSync(new URL('INDEX.json', FIXTURES), 'utf8')) as Array<{ file: string; valid: boolean }>;
const DOCS = INDEX.filter((e) => e.valid).map((e) => ({ name: e.file, bytes: new Uint8Array(readFileSync(new URL(e.file, FIXTURES))) }));

const SEED = 0x5eed_a77e;
const MUTATIONS_PER_DOCUMENT = 60;

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): { int(n: number): number; pick<T>(xs: readonly T[]): T } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return { int, pick: (xs) => xs[int(xs.length)] as (typeof xs)[number] };
}

// ---------- an independent view of COSE parts (cbor-x) ----------
const cborx = new Decoder({ mapsAsObjects: false, useRecords: false });
interface Parts { protectedHeader: Uint8Array; payload: Uint8Array; signature: Uint8Array; tagged: boolean }
function partsOf(bytes: Uint8Array): Parts {
  let v = cborx.decode(bytes) as unknown;
  let tagged = false;
  if (v instanceof Tag) {
    tagged = true;
    v = v.value;
  }
  const [p, , payload, signature] = v as [Uint8Array, unknown, Uint8Array, Uint8Array];
  return { protectedHeader: new Uint8Array(p), payload: new Uint8Array(payload), signature: new Uint8Array(signature), tagged };
}
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

function cose(p: Parts, opts: { tagged?: boolean; unprotected?: Encodable; indefiniteArray?: boolean } = {}): Uint8Array {
  const items: Encodable[] = [p.protectedHeader, opts.unprotected ?? new Map(), p.payload, p.signature];
  const body: Encodable = opts.indefiniteArray === true
    ? new Raw(Uint8Array.from([0x9f, ...items.flatMap((x) => [...encode(x)]), 0xff]))
    : items;
  return encode((opts.tagged ?? p.tagged) ? new Tagged(18, body) : body);
}

/** Item heads of well-formed CBOR: offset, major type, additional info, head length. */
interface Head { offset: number; major: number; ai: number; length: number }
function heads(bytes: Uint8Array, base = 0): Head[] {
  const out: Head[] = [];
  let pos = 0;
  const arg = (ai: number): number => {
    if (ai < 24) return ai;
    const n = 1 << (ai - 24);
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + (bytes[pos + i] as number);
    pos += n;
    return v;
  };
  const item = (): void => {
    const offset = pos;
    const b = bytes[pos++] as number;
    const major = b >> 5;
    const ai = b & 31;
    if (b === 0xff) return;
    const value = ai === 31 ? -1 : arg(ai);
    out.push({ offset: base + offset, major, ai, length: pos - offset });
    if (major === 2 || major === 3) {
      if (value >= 0) pos += value;
      else while (bytes[pos] !== 0xff) item();
      if (value < 0) pos += 1;
    } else if (major === 4 || major === 5) {
      const count = major === 5 ? value * 2 : value;
      if (value >= 0) for (let i = 0; i < count; i++) item();
      else {
        while (bytes[pos] !== 0xff) item();
        pos += 1;
      }
    } else if (major === 6) item();
  };
  item();
  return out;
}

/** The payload map rebuilt as encodable entries (cbor-x decoding), in encoded order. */
function payloadEntries(payload: Uint8Array): Array<[string, Encodable]> {
  const m = cborx.decode(payload) as Map<string, unknown>;
  const conv = (v: unknown): Encodable => {
    if (v instanceof Uint8Array) return new Uint8Array(v);
    if (Array.isArray(v)) return v.map(conv);
    if (v instanceof Map) return new Map([...v].map(([k, x]) => [conv(k), conv(x)]));
    return v as Encodable;
  };
  return [...m].map(([k, v]) => [k, conv(v)]);
}

type Mutator = (doc: Uint8Array, parts: Parts, rnd: ReturnType<typeof prng>) => Uint8Array;

const withPayload = (parts: Parts, payload: Uint8Array): Uint8Array => cose({ ...parts, payload });
const withEntries = (parts: Parts, entries: Array<[string, Encodable]>, indefinite = false): Uint8Array =>
  withPayload(parts, encode(indefinite ? new IndefiniteMap(entries) : new Map<Encodable, Encodable>(entries)));
const isIndefinite = (payload: Uint8Array): boolean => payload[0] === 0xbf;

const MUTATORS: Record<string, Mutator> = {
  'bit flips': (doc, _p, r) => {
    const out = new Uint8Array(doc);
    for (let i = 0, n = 1 + r.int(3); i < n; i++) {
      const at = r.int(out.length);
      out[at] = (out[at] as number) ^ (1 << r.int(8));
    }
    return out;
  },
  'random byte': (doc, _p, r) => {
    const out = new Uint8Array(doc);
    out[r.int(out.length)] = r.int(256);
    return out;
  },
  truncation: (doc, _p, r) => doc.subarray(0, r.int(doc.length)),
  extension: (doc, _p, r) => Uint8Array.from([...doc, ...Array.from({ length: 1 + r.int(16) }, () => r.int(256))]),
  'byte deletion': (doc, _p, r) => {
    const at = r.int(doc.length);
    return Uint8Array.from([...doc.subarray(0, at), ...doc.subarray(at + 1 + r.int(4))]);
  },
  'byte insertion': (doc, _p, r) => {
    const at = r.int(doc.length);
    return Uint8Array.from([...doc.subarray(0, at), r.int(256), ...doc.subarray(at)]);
  },
  'payload bit flip (re-wrapped)': (_d, p, r) => {
    const payload = new Uint8Array(p.payload);
    const at = r.int(payload.length);
    payload[at] = (payload[at] as number) ^ (1 << r.int(8));
    return withPayload(p, payload);
  },
  'change a major type': (doc, _p, r) => {
    const h = r.pick(heads(doc));
    const out = new Uint8Array(doc);
    let major = r.int(8);
    if (major === h.major) major = (major + 1) % 8;
    out[h.offset] = (major << 5) | h.ai;
    return out;
  },
  'change a length/value by ±1': (doc, _p, r) => {
    const h = r.pick(heads(doc));
    const out = new Uint8Array(doc);
    const delta = r.int(2) === 0 ? 1 : 255;
    const last = h.ai < 24 ? h.offset : h.offset + h.length - 1;
    if (h.ai < 24) out[last] = (h.major << 5) | ((h.ai + (delta === 1 ? 1 : 23)) % 24);
    else out[last] = ((out[last] as number) + delta) & 0xff;
    return out;
  },
  'payload length/value ±1 (re-wrapped)': (_d, p, r) => {
    const h = r.pick(heads(p.payload));
    const payload = new Uint8Array(p.payload);
    const last = h.ai < 24 ? h.offset : h.offset + h.length - 1;
    if (h.ai < 24) payload[last] = (h.major << 5) | ((h.ai + 1) % 24);
    else payload[last] = ((payload[last] as number) + 1) & 0xff;
    return withPayload(p, payload);
  },
  'reserved additional info': (doc, _p, r) => {
    const h = r.pick(heads(doc));
    const out = new Uint8Array(doc);
    out[h.offset] = (h.major << 5) | (28 + r.int(3));
    return out;
  },
  'non-minimal head (re-wrapped payload)': (_d, p, r) => {
    const small = heads(p.payload).filter((h) => h.ai < 24 && h.major !== 7);
    const h = r.pick(small);
    const payload = Uint8Array.from([...p.payload.subarray(0, h.offset), (h.major << 5) | 24, h.ai, ...p.payload.subarray(h.offset + 1)]);
    return withPayload(p, payload);
  },
  're-encode payload definite ⇄ indefinite': (_d, p) => withEntries(p, payloadEntries(p.payload), !isIndefinite(p.payload)),
  'remove a payload key': (_d, p, r) => {
    const entries = payloadEntries(p.payload);
    entries.splice(r.int(entries.length), 1);
    return withEntries(p, entries, isIndefinite(p.payload));
  },
  'add a payload key': (_d, p, r) => {
    const entries = payloadEntries(p.payload);
    entries.splice(r.int(entries.length + 1), 0, [r.pick(['extra', 'nitrotpm_pcrs', 'module_id', 'pcrs', 'user_data']), r.pick<Encodable>([null, 1, new Uint8Array(48), 'x'])]);
    return withEntries(p, entries, isIndefinite(p.payload));
  },
  'change a payload value': (_d, p, r) => {
    const entries = payloadEntries(p.payload);
    const i = r.int(entries.length);
    const e = entries[i] as [string, Encodable];
    entries[i] = [e[0], r.pick<Encodable>([null, 0, -1, 2 ** 40, 'SHA384', new Uint8Array(0), new Uint8Array(1025), [], new Map()])];
    return withEntries(p, entries, isIndefinite(p.payload));
  },
  'swap cabundle entries': (_d, p, r) => {
    const entries = payloadEntries(p.payload);
    const ca = entries.find(([k]) => k === 'cabundle') as [string, Uint8Array[]];
    const i = r.int(ca[1].length);
    const j = (i + 1 + r.int(ca[1].length - 1)) % ca[1].length;
    [ca[1][i], ca[1][j]] = [ca[1][j] as Uint8Array, ca[1][i] as Uint8Array];
    return withEntries(p, entries, isIndefinite(p.payload));
  },
  'swap certificate from another document': (_d, p, r) => {
    const other = payloadEntries(partsOf(r.pick(DOCS).bytes).payload);
    const key = r.pick(['certificate', 'cabundle']);
    const entries = payloadEntries(p.payload).map(([k, v]): [string, Encodable] => [k, k === key ? (other.find(([o]) => o === key)?.[1] ?? v) : v]);
    return withEntries(p, entries, isIndefinite(p.payload));
  },
  'payload or signature from another document': (_d, p, r) => {
    const other = partsOf(r.pick(DOCS).bytes);
    return r.int(2) === 0 ? cose({ ...p, payload: other.payload }) : cose({ ...p, signature: other.signature });
  },
  'protected header edit': (_d, p, r) => {
    const headers: Uint8Array[] = [
      Uint8Array.of(0xa1, 0x01, 0x26), // ES256
      Uint8Array.of(0xa1, 0x01, 0x38, 0x23), // ES512
      Uint8Array.of(0xbf, 0x01, 0x38, 0x22, 0xff), // same map, different bytes
      Uint8Array.of(0xa1, 0x01, 0x38, 0x22, 0x00), // trailing byte
      new Uint8Array(0),
    ];
    return cose({ ...p, protectedHeader: r.pick(headers) });
  },
  // Edits outside the signed bytes: refused or accepted, never accepted with changed signed bytes.
  'unsigned envelope edit': (_d, p, r) => {
    switch (r.int(4)) {
      case 0: return cose(p, { tagged: !p.tagged });
      case 1: return cose(p, { indefiniteArray: true });
      case 2: return cose(p, { unprotected: new Map<Encodable, Encodable>([[4, new Uint8Array(4)]]) });
      default: return encode(new Tagged(r.pick([16, 17, 96, 98]), [p.protectedHeader, new Map(), p.payload, p.signature]));
    }
  },
};

describe('mutation fuzzing over the real documents', () => {
  it(`${DOCS.length} documents × ${MUTATIONS_PER_DOCUMENT} mutations: none with changed signed bytes accepted, every refusal coded`, () => {
    const rnd = prng(SEED);
    const names = Object.keys(MUTATORS);
    const byCode = new Map<string, number>();
    const byMutator = new Map<string, { tried: number; accepted: number }>();
    const uncoded: string[] = [];
    const wronglyAccepted: string[] = [];
    let tried = 0;
    let acceptedUnchanged = 0;

    for (const { name, bytes } of DOCS) {
      const original = partsOf(bytes);
      for (let i = 0; i < MUTATIONS_PER_DOCUMENT; i++) {
        const mutatorName = names[(i + rnd.int(names.length)) % names.length] as string;
        const mutated = (MUTATORS[mutatorName] as Mutator)(bytes, original, rnd);
        if (same(mutated, bytes)) continue; // a no-op mutation proves nothing
        tried += 1;
        const stats = byMutator.get(mutatorName) ?? { tried: 0, accepted: 0 };
        stats.tried += 1;
        byMutator.set(mutatorName, stats);
        try {
          verifyAttestationDocument(mutated, { time: { kind: 'document' }, pcrs: 'skip', allowDebug: true });
          const parsed = parseAttestationDocument(mutated);
          const unchanged = same(parsed.protectedHeader, original.protectedHeader) && same(parsed.payload, original.payload) && same(parsed.signature, original.signature);
          if (unchanged) {
            acceptedUnchanged += 1;
            stats.accepted += 1;
          } else {
            wronglyAccepted.push(`${name} (${mutatorName})`);
          }
        } catch (e) {
          if (isVerificationError(e) && e.code in VERIFY_ERROR_CODES) byCode.set(e.code, (byCode.get(e.code) ?? 0) + 1);
          else uncoded.push(`${name} (${mutatorName}): ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
        }
      }
    }

    console.log(`attestation fuzz: seed 0x${SEED.toString(16)}, ${tried} mutations tried, ${tried - acceptedUnchanged} refused, ${acceptedUnchanged} accepted (signed bytes unchanged)`);
    console.log(`  refused by code: ${[...byCode].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c}=${n}`).join(', ')}`);
    console.log(`  by mutator: ${[...byMutator].map(([m, s]) => `${m}: ${s.tried}${s.accepted > 0 ? ` (${s.accepted} accepted, unsigned edit)` : ''}`).join('; ')}`);

    expect(uncoded).toEqual([]);
    expect(wronglyAccepted).toEqual([]);
    expect(tried).toBeGreaterThan(3000);
    // The fuzzer really reaches the deep checks, not just the CBOR reader.
    for (const code of ['MALFORMED_CBOR', 'MALFORMED_COSE', 'MALFORMED_DOCUMENT', 'COSE_SIGNATURE_INVALID', 'CHAIN_INVALID']) {
      expect(byCode.get(code) ?? 0, code).toBeGreaterThan(0);
    }
  });

  it('unsigned envelope edits that keep the signed bytes are the only accepted mutations', () => {
    const doc = DOCS[0] as { bytes: Uint8Array };
    const p = partsOf(doc.bytes);
    // Tag 18 added and the indefinite-length outer array: accepted, same signed bytes.
    for (const variant of [cose(p, { tagged: true }), cose(p, { indefiniteArray: true })]) {
      const r = verifyAttestationDocument(variant, { time: { kind: 'document' }, pcrs: 'skip', allowDebug: true });
      expect(r.checks.find((c) => c.name === 'cose-signature')?.status).toBe('pass');
    }
  });
});
