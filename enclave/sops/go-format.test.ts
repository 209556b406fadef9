// Expected strings are Go's outputs (strconv.FormatFloat 'f' -1, time.MarshalText), taken
// from what sops v3.12.2 wrote for the same inputs (see test/sops-scalars.test.ts).
import { describe, expect, it } from 'vitest';
import { canonicalLastModified, canonicalRfc3339, formatGoFloat, goJsonString, parseGoAtoi, parseGoBool, parseYamlTimestamp } from './go-format.ts';

describe('Go formatting used by the MAC', () => {
  it('FormatFloat(f, f, -1, 64)', () => {
    expect(formatGoFloat(1)).toBe('1');
    expect(formatGoFloat(1.5)).toBe('1.5');
    expect(formatGoFloat(1e20)).toBe('100000000000000000000');
    expect(formatGoFloat(1e21)).toBe('1000000000000000000000');
    expect(formatGoFloat(0.000001)).toBe('0.000001');
    expect(formatGoFloat(1e-7)).toBe('0.0000001');
    expect(formatGoFloat(6.02e23)).toBe('602000000000000000000000');
    expect(formatGoFloat(-0)).toBe('-0');
    expect(formatGoFloat(Infinity)).toBe('+Inf');
    expect(formatGoFloat(-Infinity)).toBe('-Inf');
    expect(formatGoFloat(NaN)).toBe('NaN');
    expect(formatGoFloat(5e-324)).toBe(`0.${'0'.repeat(323)}5`);
  });

  it('Atoi and ParseBool', () => {
    expect(parseGoAtoi('+7')).toBe(7n);
    expect(parseGoAtoi('-9223372036854775808')).toBe(-(2n ** 63n));
    expect(parseGoAtoi('9223372036854775808')).toBeUndefined();
    expect(parseGoAtoi('0x1F')).toBeUndefined();
    expect(parseGoBool('T')).toBe(true);
    expect(parseGoBool('yes')).toBeUndefined();
  });

  it('time formats', () => {
    expect(canonicalRfc3339('2024-01-02T03:04:05.120+02:00')).toBe('2024-01-02T03:04:05.12+02:00');
    expect(canonicalRfc3339('2024-01-02T03:04:05-00:00')).toBe('2024-01-02T03:04:05Z');
    expect(canonicalRfc3339('2024-02-30T00:00:00Z')).toBeUndefined();
    expect(parseYamlTimestamp('2024-1-2 3:04:05')).toBe('2024-01-02T03:04:05Z');
    expect(parseYamlTimestamp('2024-01-02')).toBe('2024-01-02T00:00:00Z');
    expect(parseYamlTimestamp('2024-01-02 03:04:05Z')).toBeUndefined();
    expect(canonicalLastModified('2026-11-23T10:26:17.5Z')).toBe('2026-11-23T10:26:17Z');
  });
});

describe('Go time parsing (time.Parse RFC3339) and JSON string rendering', () => {
  it('takes what Go takes and refuses what Go refuses', () => {
    expect(canonicalRfc3339('2024-01-02T03:04:05,5Z')).toBe('2024-01-02T03:04:05.5Z');
    expect(canonicalRfc3339('2024-01-02T03:04:05.1234567899Z')).toBe('2024-01-02T03:04:05.123456789Z');
    expect(canonicalRfc3339('2024-01-02T3:04:05Z')).toBe('2024-01-02T03:04:05Z');
    expect(canonicalRfc3339('2024-01-02t03:04:05Z')).toBeUndefined();
    expect(canonicalRfc3339('2024-01-02T03:04:05z')).toBeUndefined();
    expect(canonicalRfc3339('2024-01-02T03:04:05+24:00')).toBeUndefined();
    expect(canonicalLastModified('2024-01-02T03:04:05+24:00')).toBe('2024-01-02T03:04:05+24:00');
    expect(canonicalLastModified('2024-01-02T03:04:05+01:60')).toBe('2024-01-02T03:04:05+02:00');
    expect(canonicalLastModified('2024-01-02T03:04:05+25:00')).toBeUndefined();
    expect(canonicalLastModified('2024-01-02T03:04:60Z')).toBeUndefined();
    expect(canonicalLastModified('+024-01-02T03:04:05Z')).toBeUndefined();
  });

  it('goJsonString replaces each bad byte with U+FFFD', () => {
    expect(goJsonString(Buffer.from([0x61, 0xf0, 0x9f, 0x98, 0x41]))).toBe('a\ufffd\ufffd\ufffdA');
    expect(goJsonString(Buffer.from([0xed, 0xa0, 0x80]))).toBe('\ufffd\ufffd\ufffd');
    expect(goJsonString(Buffer.from([0xe0, 0x80, 0x80]))).toBe('\ufffd\ufffd\ufffd');
    expect(goJsonString(Buffer.from('é😀', 'utf8'))).toBe('é😀');
  });
});
