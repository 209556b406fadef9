// `describe`: what nitro-cli describe-eif reports (EifVersion, Measurements, IsSigned,
// SigningCertificate, CheckCRC, SignatureCheck, metadata), plus the section table and
// digests, from our own reader.
import { createHash, X509Certificate } from 'node:crypto';
import { readEif, type ParsedEif } from './eif.ts';
import { computeEifPcrs, pcrHex } from './pcrs.ts';
import { checkEifSignature, parseEifSignature } from './eif-signature.ts';
import { parseEifMetadata, type EifMetadata } from './metadata.ts';
import { signingCertValidity } from './signing-cert-dates.ts';
import { readCpio } from './cpio.ts';
import { parseTrustPolicy } from '../verifier/trust-policy.ts';
import { TRUST_POLICY_IMAGE_PATH } from '../verifier/build-manifest.ts';

/** The trust policy file an attested-pack image carries (absent: the enclave refuses every pack). */
export type DescribedTrustPolicy =
  | { present: false; path: string }
  | { present: true; path: string; sha384: string; size: number; development: boolean | null; valid: boolean; error?: string };

export interface EifDescription {
  eifVersion: number;
  architecture: 'x86_64' | 'aarch64';
  size: number;
  sha384: string;
  checkCrc: boolean;
  crc32: string;
  pcrs: { '0': string; '1': string; '2': string; '8'?: string };
  isSigned: boolean;
  signatureCheck?: boolean;
  signingCertificate?: {
    subject: string;
    issuer: string;
    notBefore: string;
    notAfter: string;
    sha256Fingerprint: string;
    /** At the time of `describe`: nitro-cli refuses to run an image whose certificate is not valid. */
    validity: 'valid' | 'expired' | 'not-yet-valid';
    problem?: { code: string; message: string };
  };
  trustPolicy: DescribedTrustPolicy;
  sections: Array<{ index: number; type: string; offset: number; size: number; sha384: string }>;
  cmdline: string;
  metadata?: EifMetadata | { raw: string };
}

const sha384 = (b: Uint8Array): string => createHash('sha384').update(b).digest('hex');

const RAMDISK_POLICY_PATH = `rootfs${TRUST_POLICY_IMAGE_PATH}`;

/** Find rootfs/app/trust-policy.json in the application ramdisks and check it as the enclave would. */
export function describeTrustPolicy(ramdisks: Uint8Array[]): DescribedTrustPolicy {
  for (const ramdisk of ramdisks.slice(1)) {
    let entry: ReturnType<typeof readCpio>[number] | undefined;
    try {
      entry = readCpio(ramdisk).find((r) => r.path === RAMDISK_POLICY_PATH);
    } catch {
      continue; // not a newc archive: not one of ours
    }
    if (entry === undefined) continue;
    const out = { present: true as const, path: TRUST_POLICY_IMAGE_PATH, sha384: sha384(entry.data), size: entry.data.length };
    try {
      const policy = parseTrustPolicy(entry.data, { requireCanonical: true });
      return { ...out, development: policy.development, valid: true };
    } catch (e) {
      return { ...out, development: null, valid: false, error: (e as Error).message };
    }
  }
  return { present: false, path: TRUST_POLICY_IMAGE_PATH };
}

export function describeParsedEif(eif: ParsedEif, bytes: Uint8Array, now: Date = new Date()): EifDescription {
  const sig = eif.signature === undefined ? undefined : parseEifSignature(eif.signature);
  const pcrs = computeEifPcrs(eif, sig?.certificateDer);
  const out: EifDescription = {
    eifVersion: eif.version,
    architecture: (eif.flags & 1) === 1 ? 'aarch64' : 'x86_64',
    size: bytes.length,
    sha384: sha384(bytes),
    checkCrc: eif.crc32 === eif.computedCrc32,
    crc32: eif.crc32.toString(16).padStart(8, '0'),
    pcrs: pcrHex(pcrs),
    isSigned: sig !== undefined,
    sections: eif.sections.map((s, index) => ({ index, type: s.type, offset: s.offset, size: s.size, sha384: sha384(s.data) })),
    cmdline: Buffer.from(eif.cmdline).toString('utf8'),
    trustPolicy: describeTrustPolicy(eif.ramdisks),
  };
  if (sig !== undefined) {
    const cert = new X509Certificate(Buffer.from(sig.certificateDer));
    out.signatureCheck = checkEifSignature(sig, pcrs[0]);
    const dates = signingCertValidity(sig.certificateDer, now);
    out.signingCertificate = {
      subject: cert.subject.replace(/\n/g, ', '),
      issuer: cert.issuer.replace(/\n/g, ', '),
      notBefore: new Date(cert.validFrom).toISOString(),
      notAfter: new Date(cert.validTo).toISOString(),
      sha256Fingerprint: createHash('sha256').update(sig.certificateDer).digest('hex'),
      validity: dates.problem === null ? 'valid' : dates.problem.code === 'EIF_SIGNING_CERT_EXPIRED' ? 'expired' : 'not-yet-valid',
      ...(dates.problem === null ? {} : { problem: dates.problem }),
    };
  }
  if (eif.metadata !== undefined) out.metadata = parseEifMetadata(eif.metadata);
  return out;
}

export function describeEif(bytes: Uint8Array, now: Date = new Date()): EifDescription {
  return describeParsedEif(readEif(bytes), bytes, now);
}

/** Every check `describe` fails on (exit 1): CRC, signature, certificate dates, an invalid policy file. */
export function describeProblems(d: EifDescription): string[] {
  const out: string[] = [];
  if (!d.checkCrc) out.push('EIF_CRC_MISMATCH: the CRC-32 does not match');
  if (d.signatureCheck === false) out.push('the EIF signature does not verify');
  if (d.signingCertificate?.problem !== undefined) out.push(`${d.signingCertificate.problem.code}: ${d.signingCertificate.problem.message}`);
  if (d.trustPolicy.present && !d.trustPolicy.valid) out.push(`TRUST_POLICY_INVALID: ${d.trustPolicy.path}: ${d.trustPolicy.error ?? ''}`);
  return out;
}

function trustPolicyLine(tp: DescribedTrustPolicy): string[] {
  if (!tp.present) return [`Trust policy:    NONE (no ${tp.path}): an attested-pack enclave REFUSES EVERY PACK with this image`];
  if (!tp.valid) return [`Trust policy:    INVALID ${tp.path} sha384 ${tp.sha384}: ${tp.error ?? ''}`];
  const lines = [`Trust policy:    sha384 ${tp.sha384} (${tp.path}, ${tp.size} bytes)`];
  if (tp.development === true) lines.push('  *** DEVELOPMENT trust policy: demo and tests only — run-enclave and doctor refuse it on a Nitro host ***');
  return lines;
}

export function formatDescription(d: EifDescription): string {
  const lines = [
    `EIF version:     ${d.eifVersion} (${d.architecture})`,
    `Size:            ${d.size} bytes`,
    `SHA-384:         ${d.sha384}`,
    `CRC-32:          ${d.crc32} (${d.checkCrc ? 'ok' : 'MISMATCH'})`,
    `PCR0:            ${d.pcrs['0']}`,
    `PCR1:            ${d.pcrs['1']}`,
    `PCR2:            ${d.pcrs['2']}`,
  ];
  if (d.pcrs['8'] !== undefined) lines.push(`PCR8:            ${d.pcrs['8']}`);
  lines.push(`Signed:          ${d.isSigned ? `yes, signature ${d.signatureCheck === true ? 'valid' : 'INVALID'}` : 'no'}`);
  if (d.signingCertificate !== undefined) {
    const c = d.signingCertificate;
    const validity = c.validity === 'valid' ? 'valid now' : c.validity === 'expired' ? 'EXPIRED — nitro-cli refuses this image' : 'NOT YET VALID — nitro-cli refuses this image';
    lines.push(`  subject:       ${c.subject}`, `  issuer:        ${c.issuer}`, `  valid:         ${c.notBefore} .. ${c.notAfter} (${validity})`, `  sha256:        ${c.sha256Fingerprint}`);
  }
  lines.push(...trustPolicyLine(d.trustPolicy));
  lines.push(`Cmdline:         ${d.cmdline}`, 'Sections:');
  for (const s of d.sections) lines.push(`  [${s.index}] ${s.type.padEnd(9)} offset ${String(s.offset).padStart(10)}  size ${String(s.size).padStart(10)}  sha384 ${s.sha384.slice(0, 16)}…`);
  if (d.metadata !== undefined) {
    if ('raw' in d.metadata) lines.push(`Metadata:        (not JSON) ${d.metadata.raw.slice(0, 200)}`);
    else {
      const m = d.metadata;
      lines.push(`Image:           ${m.ImageName} ${m.ImageVersion}`, `Build:           ${m.BuildMetadata.BuildTool} ${m.BuildMetadata.BuildToolVersion} at ${m.BuildMetadata.BuildTime}, kernel ${m.BuildMetadata.KernelVersion}`);
      if (m.CustomMetadata !== null && m.CustomMetadata !== undefined) lines.push(`Custom metadata: ${JSON.stringify(m.CustomMetadata)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
