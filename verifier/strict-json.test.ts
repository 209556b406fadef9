import { describe, expect, it } from 'vitest';
import { parseStrictJson, StrictJsonError } from './strict-json.ts';

const refuse = (input: string | Uint8Array) => {
  expect(() => parseStrictJson(input)).toThrow(StrictJsonError);
};

describe('parseStrictJson', () => {
  it('parses what JSON.parse parses, for well-formed unambiguous text', () => {
    const text = '{"a":[1,-2.5e3,true,false,null,"x\\u00e9\\ud83d\\ude00"],"b":{"c":"\\n\\"/"}, "d": 0}';
    expect(JSON.parse(JSON.stringify(parseStrictJson(text)))).toEqual(JSON.parse(text));
  });

  it('refuses duplicate member names, also when they differ only by escaping', () => {
    refuse('{"schema":1,"schema":2}');
    refuse('{"a":1,"\\u0061":2}');
    refuse('{"x":{"commit":"a","commit":"b"}}');
  });

  it('refuses a BOM, as text or as bytes', () => {
    refuse('\ufeff{}');
    refuse(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]));
  });

  it('refuses lone surrogates, escaped or raw', () => {
    refuse('"\\ud800"');
    refuse('"\\udc00\\ud800"');
    refuse('"a\ud800b"');
  });

  it('refuses invalid UTF-8, trailing data, bad numbers and control characters', () => {
    refuse(new Uint8Array([0x22, 0xff, 0x22]));
    refuse('{} x');
    refuse('01');
    refuse('1.');
    refuse('+1');
    refuse('1e999');
    refuse('"a\nb"');
    refuse('[1,]');
    refuse('{"a":1,}');
    refuse('');
    refuse('tru');
  });

  it('limits nesting depth', () => {
    expect(() => parseStrictJson('['.repeat(65) + ']'.repeat(65))).toThrow(/nesting deeper than 64/);
    expect(parseStrictJson('['.repeat(64) + ']'.repeat(64))).toBeInstanceOf(Array);
    expect(() => parseStrictJson('[[1]]', { maxDepth: 1 })).toThrow(StrictJsonError);
  });

  it('treats __proto__ as an ordinary member name', () => {
    const v = parseStrictJson('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
