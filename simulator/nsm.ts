// A simulated Nitro Security Module: the `Nsm` interface backed by the SIMULATED test CA
// (simulator/attestation-issuer.ts). Its PCRs come from a build manifest (or an explicit
// map), so a simulated enclave "runs" one specific image, and every document is a real
// COSE_Sign1 that verifies only against the simulated root passed explicitly.
import { randomBytes } from 'node:crypto';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Nsm, NsmAttestationRequest } from '../verifier/nsm-types.ts';
import { manifestPcrs, parseAttestationDocument, type BuildManifest } from '../verifier/index.ts';
import type { TestCa } from './attestation-issuer.ts';
import { latencyDelay, type LatencyModel } from './latency.ts';

/** NSM limits (nsm-api): user_data, nonce and public_key at most 1024 bytes each. */
export const NSM_MAX_FIELD_BYTES = 1024;
export const SIMULATED_ROOT_FILE = 'simulated-nitro-root.pem';

export type SimulatedNsmErrorCode = 'InputTooLarge' | 'InvalidArgument';

/** Errors named like the NSM's own error codes. */
export class SimulatedNsmError extends Error {
  readonly code: SimulatedNsmErrorCode;
  constructor(code: SimulatedNsmErrorCode, message: string) {
    super(message);
    this.name = 'SimulatedNsmError';
    this.code = code;
  }
}

export interface SimulatedNsmOptions {
  ca: TestCa;
  /** The image PCRs (0, 1, 2, optionally 8), as a map or from the image's build manifest. */
  pcrs: Map<number, Uint8Array> | BuildManifest;
  /** "i-…-enc…"; PCR4 is derived from its instance id by the issuer. */
  moduleId?: string;
  /** ms since epoch for document timestamps (default Date.now). */
  clock?: () => number;
  /** A debug-mode enclave: PCR0/1/2/8 reported as zeros, like real debug enclaves. */
  debug?: boolean;
  /** Time one attestation takes (seeded model; benchmarks). Default: none. */
  attestationLatency?: LatencyModel;
}

function isManifest(p: SimulatedNsmOptions['pcrs']): p is BuildManifest {
  return !(p instanceof Map);
}

function checkField(name: string, v: Uint8Array | null | undefined): void {
  if (v !== undefined && v !== null && v.length > NSM_MAX_FIELD_BYTES) {
    throw new SimulatedNsmError('InputTooLarge', `${name} is ${v.length} bytes; the NSM accepts at most ${NSM_MAX_FIELD_BYTES}`);
  }
}

export function createSimulatedNsm(opts: SimulatedNsmOptions): Nsm {
  const pcrs = isManifest(opts.pcrs) ? manifestPcrs(opts.pcrs) : new Map(opts.pcrs);
  for (const [index, value] of pcrs) {
    if (!Number.isInteger(index) || index < 0 || index > 15) throw new SimulatedNsmError('InvalidArgument', `PCR index ${index} is outside 0..15`);
    if (value.length !== 48) throw new SimulatedNsmError('InvalidArgument', `PCR${index} must be 48 bytes (SHA-384), got ${value.length}`);
  }
  const clock = opts.clock ?? Date.now;
  let described: Map<number, Uint8Array> | undefined;
  const attestationTime = latencyDelay(opts.attestationLatency);

  const attest = async (req: NsmAttestationRequest): Promise<Uint8Array> => {
    checkField('user_data', req.userData);
    checkField('nonce', req.nonce);
    checkField('public_key', req.publicKey);
    await attestationTime();
    return opts.ca.issue({
      pcrs: pcrs,
      ...(opts.moduleId === undefined ? {} : { moduleId: opts.moduleId }),
      timestamp: clock(),
      publicKey: req.publicKey ?? null,
      userData: req.userData ?? null,
      nonce: req.nonce ?? null,
      ...(opts.debug === true ? { debug: true } : {}),
    });
  };

  return {
    kind: 'simulated',
    attest,
    async describePcrs() {
      // Report exactly what documents carry (including the issuer's PCR4 and zeros).
      if (described === undefined) described = parseAttestationDocument(await attest({})).document.pcrs;
      return new Map([...described].map(([k, v]) => [k, new Uint8Array(v)]));
    },
    async getRandom(length: number) {
      // Same contract as the hardware Nsm: exactly `length` bytes (it loops over GetRandom).
      if (!Number.isSafeInteger(length) || length < 0 || length > 1024 * 1024) throw new SimulatedNsmError('InvalidArgument', 'getRandom length out of range');
      return new Uint8Array(randomBytes(length));
    },
  };
}

/**
 * Write the simulated root where verifiers and the KMS emulator can be pointed at it
 * explicitly (`--root`, `--attestation-root`); returns the file path.
 */
export function writeSimulatedRoot(ca: TestCa, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, SIMULATED_ROOT_FILE);
  writeFileSync(file, ca.rootPem);
  return file;
}
