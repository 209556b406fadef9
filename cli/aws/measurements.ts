// Comparing what nitro-cli reports (describe-eif, describe-enclaves "Measurements") with the
// published build manifest. nitro-cli computes these from the EIF it launched; the enclave's
// own attestation is checked again by the host's /v1/ready — this is the first gate, before
// the host is allowed to serve.
import type { BuildManifest } from '../../verifier/build-manifest.ts';
import type { NitroMeasurements } from './nitro-cli.ts';

export interface PcrMismatch {
  pcr: 'PCR0' | 'PCR1' | 'PCR2' | 'PCR8';
  expected: string;
  actual: string | null;
}

/** PCR0/1/2 (and PCR8 when the manifest has it) that differ from the manifest. */
export function compareMeasurements(m: NitroMeasurements, manifest: BuildManifest): PcrMismatch[] {
  const out: PcrMismatch[] = [];
  const pairs: Array<[PcrMismatch['pcr'], string | undefined, string | undefined]> = [
    ['PCR0', manifest.pcrs['0'], m.PCR0],
    ['PCR1', manifest.pcrs['1'], m.PCR1],
    ['PCR2', manifest.pcrs['2'], m.PCR2],
  ];
  if (manifest.pcrs['8'] !== undefined) pairs.push(['PCR8', manifest.pcrs['8'], m.PCR8]);
  for (const [pcr, expected, actual] of pairs) {
    if (expected === undefined) continue;
    if (actual === undefined || actual.toLowerCase() !== expected.toLowerCase()) out.push({ pcr, expected: expected.toLowerCase(), actual: actual?.toLowerCase() ?? null });
  }
  return out;
}

export function describeMismatches(list: PcrMismatch[]): string {
  return list.map((x) => `${x.pcr} is ${x.actual === null ? 'absent' : `${x.actual.slice(0, 16)}…`} but the manifest says ${x.expected.slice(0, 16)}…`).join('; ');
}
