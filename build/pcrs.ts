// PCR values of an EIF, computed the way nitro-cli does (aws-nitro-enclaves-image-format
// src/utils/mod.rs `get_pcrs`, EifHasher::new_without_cache): every PCR is one TPM-style
// extend of 48 zero bytes with the SHA-384 of the measured bytes. Section payloads only,
// never their headers; the metadata section is never measured.
import { createHash } from 'node:crypto';
import { pcrExtend } from '../verifier/pcr.ts';

export interface EifPcrs {
  /** Kernel ‖ cmdline ‖ every ramdisk. Also the KMS `ImageSha384`. */
  0: Uint8Array;
  /** Kernel ‖ cmdline ‖ first (bootstrap) ramdisk. */
  1: Uint8Array;
  /** Ramdisks 2..N (the application). */
  2: Uint8Array;
  /** DER of the signing certificate; signed EIFs only. */
  8?: Uint8Array;
}

export interface MeasuredSections {
  kernel: Uint8Array;
  cmdline: Uint8Array;
  ramdisks: readonly Uint8Array[];
}

const ZERO_PCR = new Uint8Array(48);

/** SHA-384(48 zero bytes ‖ SHA-384(parts…)) — a fresh PCR extended once with the digest of the data. */
export function extendOnce(parts: readonly Uint8Array[]): Uint8Array {
  const inner = createHash('sha384');
  for (const p of parts) inner.update(p);
  return pcrExtend(ZERO_PCR, inner.digest());
}

export function computeEifPcrs(sections: MeasuredSections, signingCertificateDer?: Uint8Array): EifPcrs {
  const [bootstrap, ...app] = sections.ramdisks;
  const boot = bootstrap === undefined ? [] : [bootstrap];
  const pcrs: EifPcrs = {
    0: extendOnce([sections.kernel, sections.cmdline, ...sections.ramdisks]),
    1: extendOnce([sections.kernel, sections.cmdline, ...boot]),
    2: extendOnce(app),
  };
  if (signingCertificateDer !== undefined) pcrs[8] = extendOnce([signingCertificateDer]);
  return pcrs;
}

export function pcrHex(pcrs: EifPcrs): { '0': string; '1': string; '2': string; '8'?: string } {
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  const out: { '0': string; '1': string; '2': string; '8'?: string } = { '0': hex(pcrs[0]), '1': hex(pcrs[1]), '2': hex(pcrs[2]) };
  if (pcrs[8] !== undefined) out['8'] = hex(pcrs[8]);
  return out;
}
