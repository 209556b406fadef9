// The trusted enclave clock (enclave/authz/clock.ts) against simulated-NSM documents; here
// in test/ because enclave code and its tests never import the simulator.
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestCa, type TestCa } from '../simulator/attestation-issuer.ts';
import { createSimulatedNsm } from '../simulator/nsm.ts';
import type { Nsm } from '../enclave/nsm/nsm.ts';
import { AuthzEdgeError } from '../enclave/authz/edge-error.ts';
import { CLOCKSOURCE_PATH, checkClocksource, createTrustedClock, crossCheckWithAttestation } from '../enclave/authz/clock.ts';

const T0 = Date.UTC(2026, 11, 5, 12, 0, 0);
const pcrs = new Map([0, 1, 2].map((i) => [i, new Uint8Array(48).fill(i + 1)]));
let ca: TestCa;

beforeAll(async () => {
  ca = await createTestCa();
});

function nsmAt(timestampMs: number): Nsm {
  return createSimulatedNsm({ ca, pcrs, clock: () => timestampMs });
}

function untrusted(f: () => unknown): AuthzEdgeError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(AuthzEdgeError);
    expect((e as AuthzEdgeError).code).toBe('CLOCK_UNTRUSTED');
    return e as AuthzEdgeError;
  }
  throw new Error('expected CLOCK_UNTRUSTED');
}

const sysfs = (value: string) => (path: string) => {
  if (path !== CLOCKSOURCE_PATH) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
  return value;
};

describe('checkClocksource', () => {
  it('accepts kvm-clock exactly as sysfs prints it', () => {
    expect(() => checkClocksource(sysfs('kvm-clock\n'))).not.toThrow();
  });

  it('refuses any other clocksource, a padded value, or an unreadable file', () => {
    expect(untrusted(() => checkClocksource(sysfs('tsc\n'))).message).toMatch(/'tsc', not 'kvm-clock'/);
    untrusted(() => checkClocksource(sysfs('kvm-clock \n')));
    untrusted(() => checkClocksource(sysfs('kvm-clock\n\n')));
    untrusted(() => checkClocksource(sysfs('')));
    expect(untrusted(() => checkClocksource(() => { throw Object.assign(new Error('nope'), { code: 'ENOENT' }); })).message).toMatch(/ENOENT/);
  });
});

describe('crossCheckWithAttestation', () => {
  it('returns the skew within the bound (either direction)', async () => {
    const doc = await nsmAt(T0).attest({});
    expect(crossCheckWithAttestation(T0 + 1200, doc, 5000)).toEqual({ documentTimestampMs: T0, skewMs: 1200 });
    expect(crossCheckWithAttestation(T0 - 5000, doc, 5000).skewMs).toBe(-5000);
  });

  it('refuses a clock ahead of or behind the NSM beyond the bound', async () => {
    const doc = await nsmAt(T0).attest({});
    expect(untrusted(() => crossCheckWithAttestation(T0 + 5001, doc, 5000)).message).toMatch(/5001 ms away/);
    untrusted(() => crossCheckWithAttestation(T0 - 3_600_000, doc, 5000));
  });

  it('refuses an unparsable document, a bad bound or a non-finite clock', async () => {
    const doc = await nsmAt(T0).attest({});
    untrusted(() => crossCheckWithAttestation(T0, doc.subarray(0, 20), 5000));
    untrusted(() => crossCheckWithAttestation(T0, doc, -1));
    untrusted(() => crossCheckWithAttestation(Number.NaN, doc, 5000));
  });
});

describe('createTrustedClock', () => {
  it('simulated NSM: no clocksource check; verifyWithNsm uses a fresh document', async () => {
    const clock = createTrustedClock({ nsm: nsmAt(T0 + 300), readFile: sysfs('tsc\n'), kernelNowMs: () => T0 });
    expect(clock.now()).toBe(T0);
    await expect(clock.verifyWithNsm()).resolves.toEqual({ documentTimestampMs: T0 + 300, skewMs: -300 });
  });

  it('refuses when the NSM time and the kernel clock disagree', async () => {
    const clock = createTrustedClock({ nsm: nsmAt(T0 + 60_000), readFile: sysfs('kvm-clock\n'), kernelNowMs: () => T0, maxSkewMs: 2000 });
    await expect(clock.verifyWithNsm()).rejects.toMatchObject({ code: 'CLOCK_UNTRUSTED' });
    const doc = await nsmAt(T0 + 1000).attest({});
    expect(clock.verifyAgainst(doc).skewMs).toBe(-1000);
  });

  it('hardware NSM: the clocksource is checked when the clock is made', () => {
    const hardware: Nsm = { ...nsmAt(T0), kind: 'hardware' };
    expect(() => createTrustedClock({ nsm: hardware, readFile: sysfs('kvm-clock\n') })).not.toThrow();
    untrusted(() => createTrustedClock({ nsm: hardware, readFile: sysfs('hpet\n') }));
  });
});
