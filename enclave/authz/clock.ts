// The enclave's trusted clock. Token expiry, commit age and JWKS cache age are all judged
// against it, so it must not come from the host: no time source over vsock, no host
// header, no NTP through the egress tunnel. On Nitro the guest kernel's clock is driven by
// the hypervisor's kvm-clock (paravirtual, read from memory the Nitro hypervisor owns), so
// Date.now() inside the enclave is the hypervisor's time — provided the kernel actually
// uses kvm-clock, which `checkClocksource` verifies at start. `verifyAgainst` then
// cross-checks the clock against the `timestamp` of a fresh NSM attestation document
// (signed by the Nitro PKI), so a kernel clock that was set or drifted is caught.
import type { Nsm } from '../nsm/nsm.ts';
import { parseAttestationDocument } from '../../verifier/attestation.ts';
import { edgeFail } from './edge-error.ts';

export const CLOCKSOURCE_PATH = '/sys/devices/system/clocksource/clocksource0/current_clocksource';
export const TRUSTED_CLOCKSOURCE = 'kvm-clock';
/** Default bound between the kernel clock and a fresh NSM document's timestamp. */
export const DEFAULT_MAX_SKEW_MS = 5_000;

export type ReadTextFile = (path: string) => string;

/** Refuse (CLOCK_UNTRUSTED) unless the kernel's current clocksource is kvm-clock. */
export function checkClocksource(readFile: ReadTextFile): void {
  let text: string;
  try {
    text = readFile(CLOCKSOURCE_PATH);
  } catch (e) {
    return edgeFail('CLOCK_UNTRUSTED', `cannot read ${CLOCKSOURCE_PATH}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  // sysfs prints the name and one newline; anything else is not a value we understand.
  const name = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (name !== TRUSTED_CLOCKSOURCE) {
    edgeFail('CLOCK_UNTRUSTED', `kernel clocksource is '${name.slice(0, 64)}', not '${TRUSTED_CLOCKSOURCE}' (the hypervisor's clock)`);
  }
}

export interface ClockCrossCheck {
  documentTimestampMs: number;
  /** now − document timestamp (ms); positive when the clock is ahead. */
  skewMs: number;
}

/**
 * Compare `nowMs` with the timestamp of an attestation document the enclave's own NSM just
 * produced (so its signature is not re-checked here); refuse a skew beyond `maxSkewMs`.
 */
export function crossCheckWithAttestation(nowMs: number, attestationDocBytes: Uint8Array, maxSkewMs: number): ClockCrossCheck {
  if (!Number.isSafeInteger(maxSkewMs) || maxSkewMs < 0) edgeFail('CLOCK_UNTRUSTED', 'the clock skew bound must be a non-negative integer (ms)');
  if (!Number.isFinite(nowMs)) edgeFail('CLOCK_UNTRUSTED', 'the enclave clock returned no valid time');
  let documentTimestampMs: number;
  try {
    documentTimestampMs = parseAttestationDocument(attestationDocBytes).document.timestamp;
  } catch (e) {
    return edgeFail('CLOCK_UNTRUSTED', `the NSM document for the clock check cannot be parsed: ${(e as Error).message}`);
  }
  const skewMs = nowMs - documentTimestampMs;
  if (Math.abs(skewMs) > maxSkewMs) {
    edgeFail('CLOCK_UNTRUSTED', `the enclave clock is ${skewMs} ms away from the NSM's timestamp (bound ${maxSkewMs} ms)`);
  }
  return { documentTimestampMs, skewMs };
}

export interface TrustedClock {
  /** Milliseconds since the epoch from the enclave's own (checked) kernel clock. */
  now(): number;
  /** Cross-check the clock against an attestation document from our own NSM. */
  verifyAgainst(attestationDocBytes: Uint8Array): ClockCrossCheck;
  /** Ask the NSM for a fresh document (random nonce) and cross-check against it. */
  verifyWithNsm(): Promise<ClockCrossCheck>;
}

export interface TrustedClockOptions {
  nsm: Nsm;
  /** Reads sysfs; checked only when the NSM is the hardware one. */
  readFile: ReadTextFile;
  maxSkewMs?: number;
  /** The kernel clock (default Date.now); injectable for tests, never the host's. */
  kernelNowMs?: () => number;
}

/**
 * The clock the pack step uses. On hardware the clocksource is checked here (at start);
 * a simulated enclave runs on an ordinary kernel, so only the NSM cross-check applies.
 */
export function createTrustedClock(opts: TrustedClockOptions): TrustedClock {
  if (opts.nsm.kind === 'hardware') checkClocksource(opts.readFile);
  const now = opts.kernelNowMs ?? Date.now;
  const maxSkewMs = opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  const verifyAgainst = (doc: Uint8Array) => crossCheckWithAttestation(now(), doc, maxSkewMs);
  return {
    now,
    verifyAgainst,
    async verifyWithNsm() {
      const nonce = await opts.nsm.getRandom(32);
      return verifyAgainst(await opts.nsm.attest({ nonce }));
    },
  };
}
