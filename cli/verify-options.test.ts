import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AWS_NITRO_ROOT_G1_DER } from '../verifier/index.ts';
import { UsageError } from './command.ts';
import {
  describeTrustAnchor,
  parseDuration,
  parsePcrFlag,
  parseVerificationTime,
  parseVerifyOptions,
  readRootCertificate,
  toAttestationOptions,
} from './verify-options.ts';

const dir = mkdtempSync(join(tmpdir(), 'verify-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('shared verify options', () => {
  it('parses durations with units (a bare number is seconds)', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('90')).toBe(90_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('3h')).toBe(10_800_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    for (const bad of ['', 'soon', '-5s', '5 minutes', '1w']) expect(() => parseDuration(bad)).toThrow(UsageError);
  });

  it('parses --at now|document|ISO and --max-age', () => {
    expect(parseVerificationTime(undefined, undefined)).toEqual({ kind: 'now' });
    expect(parseVerificationTime('now', '5m')).toEqual({ kind: 'now', maxAgeMs: 300_000 });
    expect(parseVerificationTime('document', undefined)).toEqual({ kind: 'document' });
    expect(parseVerificationTime('2025-08-09T12:00:00Z', undefined)).toEqual({ kind: 'fixed', at: Date.UTC(2025, 7, 9, 12) });
    expect(parseVerificationTime('2025-08-09T14:00:00+02:00', undefined)).toEqual({ kind: 'fixed', at: Date.UTC(2025, 7, 9, 12) });
    const clock = (): number => 42;
    expect(parseVerificationTime('now', undefined, clock)).toEqual({ kind: 'now', now: clock });
    expect(() => parseVerificationTime('document', '5m')).toThrow(UsageError);
    expect(() => parseVerificationTime('yesterday', undefined)).toThrow(UsageError);
    expect(() => parseVerificationTime('2025-13-45T00:00:00Z', undefined)).toThrow(UsageError);
  });

  it('parses --pcr N=HEX strictly', () => {
    const [i, v] = parsePcrFlag(`4=0x${'ab'.repeat(48)}`);
    expect(i).toBe(4);
    expect(v.length).toBe(48);
    expect(parsePcrFlag(`31=${'00'.repeat(32)}`)[1].length).toBe(32);
    for (const bad of ['4', `32=${'00'.repeat(48)}`, `4=${'0'.repeat(95)}`, `4=${'zz'.repeat(48)}`, `x=${'00'.repeat(48)}`]) {
      expect(() => parsePcrFlag(bad)).toThrow(UsageError);
    }
  });

  it('reads --root as PEM or DER and refuses anything else', () => {
    const pem = join(dir, 'root.pem');
    writeFileSync(pem, `-----BEGIN CERTIFICATE-----\n${Buffer.from(AWS_NITRO_ROOT_G1_DER).toString('base64')}\n-----END CERTIFICATE-----\n`);
    const der = join(dir, 'root.der');
    writeFileSync(der, AWS_NITRO_ROOT_G1_DER);
    const junk = join(dir, 'junk.txt');
    writeFileSync(junk, 'hello');
    expect(Buffer.from(readRootCertificate(dir, 'root.pem')).equals(AWS_NITRO_ROOT_G1_DER)).toBe(true);
    expect(Buffer.from(readRootCertificate(dir, der)).equals(AWS_NITRO_ROOT_G1_DER)).toBe(true);
    expect(() => readRootCertificate(dir, junk)).toThrow(UsageError);
    expect(() => readRootCertificate(dir, 'missing.pem')).toThrow(UsageError);
  });

  it('turns flags into verifier options: no expectation → skip, else a PCR policy', () => {
    expect(toAttestationOptions(parseVerifyOptions({}, dir)).pcrs).toBe('skip');
    const withPcr = toAttestationOptions(parseVerifyOptions({ pcr: [`0=${'11'.repeat(48)}`], 'allow-debug': true, at: 'document' }, dir));
    expect(withPcr.time).toEqual({ kind: 'document' });
    expect(withPcr.pcrs).toEqual({ expected: new Map([[0, new Uint8Array(48).fill(0x11)]]), allowDebug: true });
    expect(() => parseVerifyOptions({ pcr: [`0=${'11'.repeat(48)}`, `0=${'22'.repeat(48)}`] }, dir)).toThrow(UsageError);
  });

  it('names the trust anchor, loudly when it is not AWS', () => {
    expect(describeTrustAnchor({ kind: 'aws', rootSha256: 'ab', rootSubject: 'CN=aws.nitro-enclaves' })).toBe('AWS Nitro root G1 (sha256 ab)');
    expect(describeTrustAnchor({ kind: 'simulated', rootSha256: 'cd', rootSubject: 'CN=SIMULATED' })).toContain('!!! SIMULATED ROOT');
    expect(describeTrustAnchor({ kind: 'custom', rootSha256: 'ef', rootSubject: 'CN=x' })).toContain('!!! CUSTOM ROOT');
  });
});
