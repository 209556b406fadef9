// Options shared by `verify attestation` and `verify receipt`: when to check the chain,
// which root to trust, and which PCRs to expect. Declared once as parseArgs data and
// turned into VerifyAttestationOptions here, so both commands mean the same thing.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import {
  isVerificationError,
  manifestPcrs,
  parseBuildManifest,
  pemCertificateToDer,
  type BuildManifest,
  type PcrExpectations,
  type VerificationTime,
  type VerifyAttestationOptions,
} from '../verifier/index.ts';
import { CommandError, EXIT_USAGE, stringListOption, stringOption, UsageError, type OptionValues } from './command.ts';

export const VERIFY_OPTIONS: NonNullable<ParseArgsConfig['options']> = {
  at: { type: 'string' },
  'max-age': { type: 'string' },
  root: { type: 'string' },
  pcr: { type: 'string', multiple: true },
  manifest: { type: 'string' },
  'allow-debug': { type: 'boolean' },
};

/** Help text for the shared options, to paste into each command's --help. */
export const VERIFY_OPTIONS_HELP = `  --at now|document|ISO   when certificates must be valid: now (default), the document's
                          own timestamp (historical audit), or an ISO 8601 instant
  --max-age DURATION      with --at now: refuse documents older than this
                          (e.g. 90s, 15m, 3h, 1d; a bare number is seconds)
  --root FILE             trust this root certificate (PEM or DER) instead of the
                          embedded AWS Nitro root G1; reported as CUSTOM or SIMULATED
  --pcr N=HEX             expect PCR N (0..31) to equal HEX; repeatable
  --manifest FILE         expect the PCRs of this build manifest (PCR0/1/2, 8 if signed)
  --allow-debug           accept debug-mode enclaves (PCR0/1/2 all zero); without it
                          they are refused, whatever else is skipped`;

export interface VerifyCliOptions {
  time: VerificationTime;
  /** Custom trust anchor (DER) from --root; undefined = embedded AWS root. */
  root?: Uint8Array;
  /** PCR expectations from --pcr and --manifest (may be empty). */
  expectedPcrs: Map<number, Uint8Array>;
  manifest?: BuildManifest;
  allowDebug: boolean;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "15m", "3h", "1d", "500ms"; a bare number is seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (m === null) throw new UsageError(`--max-age: '${text}' is not a duration (e.g. 90s, 15m, 3h, 1d)`);
  const ms = Number(m[1]) * (DURATION_UNITS[m[2] ?? 's'] as number);
  if (!Number.isFinite(ms)) throw new UsageError(`--max-age: '${text}' is too large`);
  return ms;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

export function parseVerificationTime(at: string | undefined, maxAge: string | undefined, now?: () => number): VerificationTime {
  if (at === undefined || at === 'now') {
    const time: VerificationTime = { kind: 'now' };
    if (now !== undefined) time.now = now;
    if (maxAge !== undefined) time.maxAgeMs = parseDuration(maxAge);
    return time;
  }
  if (maxAge !== undefined) throw new UsageError('--max-age only applies with --at now');
  if (at === 'document') return { kind: 'document' };
  const ms = ISO_INSTANT.test(at) ? Date.parse(at) : NaN;
  if (Number.isNaN(ms)) throw new UsageError(`--at: '${at}' is not 'now', 'document' or an ISO 8601 instant (e.g. 2025-08-09T12:00:00Z)`);
  return { kind: 'fixed', at: ms };
}

function readInput(cwd: string, file: string, what: string): Buffer {
  try {
    return readFileSync(resolve(cwd, file));
  } catch (e) {
    throw new UsageError(`${what} '${file}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** A root certificate file, PEM or DER. */
export function readRootCertificate(cwd: string, file: string): Uint8Array {
  const bytes = readInput(cwd, file, '--root');
  const text = bytes.toString('latin1');
  const der = text.includes('-----BEGIN CERTIFICATE-----') ? pemCertificateToDer(text) : new Uint8Array(bytes);
  if (der === undefined || der.length === 0 || der[0] !== 0x30) throw new UsageError(`--root '${file}': not a PEM or DER certificate`);
  return der;
}

export function parsePcrFlag(flag: string): [number, Uint8Array] {
  const m = /^(\d{1,2})=(?:0x)?([0-9a-fA-F]+)$/.exec(flag.trim());
  if (m === null) throw new UsageError(`--pcr '${flag}': expected N=HEX, e.g. 0=1f2e…`);
  const index = Number(m[1]);
  const hex = m[2] as string;
  if (index > 31) throw new UsageError(`--pcr '${flag}': PCR index must be 0..31`);
  if (![64, 96, 128].includes(hex.length)) throw new UsageError(`--pcr '${flag}': value must be 32, 48 or 64 bytes (64, 96 or 128 hex digits)`);
  return [index, new Uint8Array(Buffer.from(hex, 'hex'))];
}

/** Parse the shared flags. Throws UsageError for anything malformed or unreadable. */
export function parseVerifyOptions(values: OptionValues, cwd: string, now?: () => number): VerifyCliOptions {
  const time = parseVerificationTime(stringOption(values, 'at'), stringOption(values, 'max-age'), now);
  const expectedPcrs = new Map<number, Uint8Array>();
  const options: VerifyCliOptions = { time, expectedPcrs, allowDebug: values['allow-debug'] === true };

  const rootFile = stringOption(values, 'root');
  if (rootFile !== undefined) options.root = readRootCertificate(cwd, rootFile);

  const manifestFile = stringOption(values, 'manifest');
  if (manifestFile !== undefined) {
    const bytes = readInput(cwd, manifestFile, '--manifest');
    try {
      options.manifest = parseBuildManifest(bytes);
    } catch (e) {
      // An input error (exit 2) that keeps the manifest's own code for --json readers.
      if (isVerificationError(e)) throw new CommandError(e.code, `--manifest '${manifestFile}': ${e.message}`, EXIT_USAGE);
      throw e;
    }
    for (const [i, v] of manifestPcrs(options.manifest)) expectedPcrs.set(i, v);
  }
  const fromFlags = new Set<number>();
  for (const flag of stringListOption(values, 'pcr')) {
    const [index, value] = parsePcrFlag(flag);
    if (fromFlags.has(index)) throw new UsageError(`--pcr ${index} is given twice`);
    fromFlags.add(index);
    const fromManifest = expectedPcrs.get(index);
    if (fromManifest !== undefined && !Buffer.from(fromManifest).equals(value)) {
      throw new UsageError(`--pcr ${index} contradicts the build manifest`);
    }
    expectedPcrs.set(index, value);
  }
  return options;
}

/** The verifier's options: PCRs are checked when any are expected, else skipped (reported). */
export function toAttestationOptions(cli: VerifyCliOptions): VerifyAttestationOptions {
  const pcrs: PcrExpectations | 'skip' = cli.expectedPcrs.size === 0
    ? 'skip'
    : { expected: cli.expectedPcrs, allowDebug: cli.allowDebug };
  const out: VerifyAttestationOptions = { time: cli.time, pcrs, allowDebug: cli.allowDebug };
  if (cli.root !== undefined) out.root = cli.root;
  return out;
}

/** One line naming the trust anchor, loud when it is not AWS's. */
export function describeTrustAnchor(trust: { kind: 'aws' | 'simulated' | 'custom'; rootSha256: string; rootSubject: string }): string {
  if (trust.kind === 'aws') return `AWS Nitro root G1 (sha256 ${trust.rootSha256})`;
  const label = trust.kind === 'simulated' ? 'SIMULATED ROOT — NOT AWS HARDWARE' : 'CUSTOM ROOT — NOT THE AWS NITRO ROOT';
  return `!!! ${label} !!! ${trust.rootSubject} (sha256 ${trust.rootSha256})`;
}
