import { describe, expect, it } from 'vitest';
import { CborTag, decodeCbor } from './cbor.ts';
import { isVerificationError, VerificationError } from './errors.ts';
import { codeOf as codeOfError } from '../test/error-codes.ts';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

const codeOf = (fn: () => unknown): string => codeOfError(fn, VerificationError);

describe('strict CBOR reader: accepts well-formed items', () => {
  it.each([
    ['00', 0],
    ['17', 23],
    ['1818', 24],
    ['1903e8', 1000],
    ['1a000f4240', 1000000],
    ['1b0000000100000000', 4294967296],
    ['20', -1],
    ['3822', -35],
    ['f4', false],
    ['f5', true],
    ['f6', null],
    ['6449455446', 'IETF'],
    ['7f657374726561646d696e67ff', 'streaming'],
  ])('%s', (h, want) => {
    expect(decodeCbor(hex(h))).toEqual(want);
  });

  it('returns bigints above 2^53', () => {
    expect(decodeCbor(hex('1bffffffffffffffff'))).toBe(0xffffffffffffffffn);
    expect(decodeCbor(hex('3bffffffffffffffff'))).toBe(-0x10000000000000000n);
  });

  it('decodes byte strings as views, arrays, maps, tags and indefinite containers', () => {
    const input = hex('d2 84 43a10126 a0 bf 6161 01 6162 9f 02 03 ff ff 5f 4101 4102 ff');
    const v = decodeCbor(input) as CborTag;
    expect(v).toBeInstanceOf(CborTag);
    expect(v.tag).toBe(18);
    const [prot, unprot, map, chunks] = v.value as [Uint8Array, Map<string, unknown>, Map<string, unknown>, Uint8Array];
    expect([...prot]).toEqual([0xa1, 0x01, 0x26]);
    expect(prot.buffer).toBe(input.buffer); // a view, not a copy
    expect(unprot.size).toBe(0);
    expect(map.get('a')).toBe(1);
    expect(map.get('b')).toEqual([2, 3]);
    expect([...chunks]).toEqual([1, 2]);
  });

  it('decodes floats (half, single, double)', () => {
    expect(decodeCbor(hex('f93c00'))).toBe(1);
    expect(decodeCbor(hex('fa47c35000'))).toBe(100000);
    expect(decodeCbor(hex('fb3ff199999999999a'))).toBe(1.1);
  });
});

describe('strict CBOR reader: refuses with MALFORMED_CBOR', () => {
  it.each([
    ['empty input', ''],
    ['trailing bytes', '0000'],
    ['truncated argument', '19 03'],
    ['truncated byte string', '45 0102'],
    ['truncated array', '83 01 02'],
    ['non-minimal uint (ai 24 < 24)', '1817'],
    ['non-minimal uint (ai 25 < 256)', '1900ff'],
    ['non-minimal uint (ai 26 < 65536)', '1a0000ffff'],
    ['non-minimal uint (ai 27 < 2^32)', '1b00000000ffffffff'],
    ['non-minimal length', '5801 00'],
    ['reserved additional info 28', '1c'],
    ['reserved additional info 29', '3d'],
    ['reserved additional info 30', '5e'],
    ['indefinite integer', '1f'],
    ['indefinite tag', 'df'],
    ['break outside a container', 'ff'],
    ['break in a definite map', 'a1 ff'],
    ['break as a map value', 'bf 01 ff'],
    ['duplicate integer key', 'a2 01 01 01 02'],
    ['duplicate text key', 'a2 6161 01 6161 02'],
    ['duplicate key in an indefinite map', 'bf 6161 01 6161 02 ff'],
    ['map key that is a byte string', 'a1 4101 01'],
    ['map key that is an array', 'a1 80 01'],
    ['invalid UTF-8 text', '62 c328'],
    ['indefinite string chunk of another type', '5f 6161 ff'],
    ['nested indefinite string chunk', '5f 5f ff ff'],
    ['unterminated indefinite array', '9f 01 02'],
    ['two-byte simple value below 32', 'f8 10'],
    ['unassigned simple value', 'f0'],
    ['length beyond the input (huge)', '5b ffffffffffffffff'],
    ['array count beyond the input', '9a 7fffffff'],
  ])('%s', (_name, h) => {
    expect(codeOf(() => decodeCbor(hex(h)))).toBe('MALFORMED_CBOR');
  });

  it('refuses nesting deeper than the limit', () => {
    expect(codeOf(() => decodeCbor(hex('81'.repeat(40) + '00')))).toBe('MALFORMED_CBOR');
    expect(decodeCbor(hex('81'.repeat(10) + '00'))).toBeTruthy();
  });

  it('reports the offset of the problem', () => {
    try {
      decodeCbor(hex('82 01 1817'));
    } catch (e) {
      expect(isVerificationError(e) && e.detail?.offset).toBe(2);
      return;
    }
    throw new Error('accepted');
  });
});

describe('strict CBOR reader agrees with an independent decoder (cbor-x)', () => {
  it('on 500 random well-formed items in preferred serialization', async () => {
    const { Decoder } = await import('cbor-x');
    const { encode, IndefiniteMap } = await import('./test-documents.ts');
    const cborx = new Decoder({ mapsAsObjects: false, useRecords: false, int64AsType: 'bigint' } as ConstructorParameters<typeof Decoder>[0]);
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    type V = Parameters<typeof encode>[0];
    const gen = (depth: number): V => {
      switch (rnd(depth > 3 ? 6 : 9)) {
        case 0: return [0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1][rnd(10)] as number;
        case 1: return -1 - rnd(100000);
        case 2: return 'txt-ü-' + 'x'.repeat(rnd(40));
        case 3: return Uint8Array.from({ length: rnd(300) }, () => rnd(256));
        case 4: return [null, true, false][rnd(3)] as V;
        case 5: return BigInt(2 ** 53) + BigInt(rnd(1000));
        case 6: return Array.from({ length: rnd(5) }, () => gen(depth + 1));
        case 7: return new Map<V, V>(Array.from({ length: rnd(5) }, (_, i) => [rnd(2) === 0 ? i : `k${i}`, gen(depth + 1)] as [V, V]));
        default: return new IndefiniteMap(Array.from({ length: rnd(5) }, (_, i) => [`k${i}`, gen(depth + 1)] as [V, V]));
      }
    };
    const normalise = (v: unknown): unknown => {
      if (v instanceof Uint8Array) return `bytes:${Buffer.from(v).toString('hex')}`;
      if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : `big:${v}`;
      if (Array.isArray(v)) return v.map(normalise);
      if (v instanceof Map) return [...v].map(([k, x]) => [normalise(k), normalise(x)]);
      return v;
    };
    for (let i = 0; i < 500; i++) {
      const bytes = encode(gen(0));
      expect(normalise(decodeCbor(bytes))).toEqual(normalise(cborx.decode(bytes)));
    }
  });
});
