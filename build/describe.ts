// `describe`: what nitro-cli describe-eif reports (EifVersion, Measurements, IsSigned,
// SigningCertificate, CheckCRC, SignatureCheck, metadata), plus the section table and
// digests, from our own reader.
import { createHash, X509Certificate } from 'node:crypto';
import { readEif, type ParsedEif } from './eif.ts';
import { computeEifPcrs, pcrHex } from './pcrs.ts';
import { checkEifSignature, parseEifSignature } from './eif-signature.ts';
import { parseEifMetadata, type EifMetadata } from './metadata.ts';

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
  signingCertificate?: { subject: string; issuer: string; notBefore: string; notAfter: string; sha256Fingerprint: string };
  sections: Array<{ index: number; type: string; offset: number; size: number; sha384: string }>;
  cmdline: string;
  metadata?: EifMetadata | { raw: string };
}

const sha384 = (b: Uint8Array): string => createHash('sha384').update(b).digest('hex');

export function describeParsedEif(eif: ParsedEif, bytes: Uint8Array): EifDescription {
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
  };
  if (sig !== undefined) {
    const cert = new X509Certificate(Buffer.from(sig.certificateDer));
    out.signatureCheck = checkEifSignature(sig, pcrs[0]);
    out.signingCertificate = {
      subject: cert.subject.replace(/\n/g, ', '),
      issuer: cert.issuer.replace(/\n/g, ', '),
      notBefore: new Date(cert.validFrom).toISOString(),
      notAfter: new Date(cert.validTo).toISOString(),
      sha256Fingerprint: createHash('sha256').update(sig.certificateDer).digest('hex'),
    };
  }
  if (eif.metadata !== undefined) out.metadata = parseEifMetadata(eif.metadata);
  return out;
}

export function describeEif(bytes: Uint8Array): EifDescription {
  return describeParsedEif(readEif(bytes), bytes);
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
    lines.push(`  subject:       ${c.subject}`, `  issuer:        ${c.issuer}`, `  valid:         ${c.notBefore} .. ${c.notAfter}`, `  sha256:        ${c.sha256Fingerprint}`);
  }
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
