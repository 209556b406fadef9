// Explain why two EIFs measure differently: which PCRs differ, which measured section moved
// them, and for ramdisks which archive entries (path, size, mode, digest) differ.
import { createHash } from 'node:crypto';
import { readEif, type ParsedEif } from './eif.ts';
import { computeEifPcrs, pcrHex } from './pcrs.ts';
import { parseEifSignature } from './eif-signature.ts';
import { fileTypeOf, readCpio } from './cpio.ts';
import { TRUST_POLICY_IMAGE_PATH } from '../verifier/build-manifest.ts';

/** The trust policy's path in the application ramdisk: named on its own when it differs. */
export const RAMDISK_TRUST_POLICY = `rootfs${TRUST_POLICY_IMAGE_PATH}`;

export interface FileFacts { size: number; mode: string; sha384: string; type: string; mtime: number; uid: number; gid: number }

export interface RamdiskFileChange {
  path: string;
  change: 'added' | 'removed' | 'changed';
  a?: FileFacts;
  b?: FileFacts;
  /** Which facts differ, for 'changed'. */
  fields?: string[];
}

export interface SectionChange {
  section: string;
  /** PCRs this section feeds. */
  pcrs: string[];
  a?: { size: number; sha384: string };
  b?: { size: number; sha384: string };
  detail?: string;
  files?: RamdiskFileChange[];
}

export interface PcrDiff {
  pcrs: Array<{ pcr: string; a: string | null; b: string | null; equal: boolean }>;
  changes: SectionChange[];
  /** Differences that move no PCR (metadata section, CRC). */
  unmeasured: string[];
  /** Set when the image's trust policy (rootfs/app/trust-policy.json) differs: its SHA-384 in each image, null when absent. */
  trustPolicy?: { path: string; a: string | null; b: string | null };
  identical: boolean;
}

const sha384 = (b: Uint8Array): string => createHash('sha384').update(b).digest('hex');

function facts(r: ReturnType<typeof readCpio>[number]): FileFacts {
  return { size: r.data.length, mode: `0${(r.mode & 0o7777).toString(8)}`, sha384: sha384(r.data), type: fileTypeOf(r.mode), mtime: r.mtime, uid: r.uid, gid: r.gid };
}

export function diffRamdisks(a: Uint8Array, b: Uint8Array): RamdiskFileChange[] | string {
  let ra: ReturnType<typeof readCpio>;
  let rb: ReturnType<typeof readCpio>;
  try {
    ra = readCpio(a);
    rb = readCpio(b);
  } catch (e) {
    return `not both newc cpio archives (${(e as Error).message}); compared as opaque bytes`;
  }
  const ma = new Map(ra.map((r) => [r.path, facts(r)]));
  const mb = new Map(rb.map((r) => [r.path, facts(r)]));
  const out: RamdiskFileChange[] = [];
  for (const path of [...new Set([...ma.keys(), ...mb.keys()])].sort()) {
    const fa = ma.get(path);
    const fb = mb.get(path);
    if (fa === undefined && fb !== undefined) out.push({ path, change: 'added', b: fb });
    else if (fb === undefined && fa !== undefined) out.push({ path, change: 'removed', a: fa });
    else if (fa !== undefined && fb !== undefined) {
      const fields = (Object.keys(fa) as Array<keyof FileFacts>).filter((k) => fa[k] !== fb[k]);
      if (fields.length > 0) out.push({ path, change: 'changed', a: fa, b: fb, fields });
    }
  }
  const orderA = ra.map((r) => r.path).join('\n');
  const orderB = rb.map((r) => r.path).join('\n');
  if (out.length === 0 && orderA !== orderB) out.push({ path: '(archive order)', change: 'changed', fields: ['order'] });
  return out;
}

function sectionFacts(d: Uint8Array | undefined): { size: number; sha384: string } | undefined {
  return d === undefined ? undefined : { size: d.length, sha384: sha384(d) };
}

export function diffParsedEifs(a: ParsedEif, b: ParsedEif): PcrDiff {
  const sigA = a.signature === undefined ? undefined : parseEifSignature(a.signature);
  const sigB = b.signature === undefined ? undefined : parseEifSignature(b.signature);
  const pa = pcrHex(computeEifPcrs(a, sigA?.certificateDer));
  const pb = pcrHex(computeEifPcrs(b, sigB?.certificateDer));
  const pcrs = (['0', '1', '2', '8'] as const).map((pcr) => {
    const va = pa[pcr] ?? null;
    const vb = pb[pcr] ?? null;
    return { pcr, a: va, b: vb, equal: va === vb };
  }).filter((p) => p.a !== null || p.b !== null);

  const changes: SectionChange[] = [];
  const compare = (section: string, feeds: string[], da: Uint8Array | undefined, db: Uint8Array | undefined, detail?: (x: Uint8Array, y: Uint8Array) => Partial<SectionChange>): void => {
    const fa = sectionFacts(da);
    const fb = sectionFacts(db);
    if (fa?.sha384 === fb?.sha384) return;
    const change: SectionChange = { section, pcrs: feeds };
    if (fa !== undefined) change.a = fa;
    if (fb !== undefined) change.b = fb;
    if (da !== undefined && db !== undefined && detail !== undefined) Object.assign(change, detail(da, db));
    changes.push(change);
  };
  compare('kernel', ['0', '1'], a.kernel, b.kernel);
  compare('cmdline', ['0', '1'], a.cmdline, b.cmdline, (x, y) => ({ detail: `${JSON.stringify(Buffer.from(x).toString())} → ${JSON.stringify(Buffer.from(y).toString())}` }));
  const n = Math.max(a.ramdisks.length, b.ramdisks.length);
  for (let i = 0; i < n; i++) {
    const name = i === 0 ? 'ramdisk[0] (bootstrap)' : `ramdisk[${i}] (application)`;
    compare(name, i === 0 ? ['0', '1'] : ['0', '2'], a.ramdisks[i], b.ramdisks[i], (x, y) => {
      const files = diffRamdisks(x, y);
      return typeof files === 'string' ? { detail: files } : { files };
    });
  }
  if (sigA?.certificateDer !== undefined || sigB?.certificateDer !== undefined) {
    compare('signing certificate', ['8'], sigA?.certificateDer, sigB?.certificateDer);
  }
  const unmeasured: string[] = [];
  if (sectionFacts(a.metadata)?.sha384 !== sectionFacts(b.metadata)?.sha384) unmeasured.push('metadata section differs (not measured)');
  if (sectionFacts(a.signature)?.sha384 !== sectionFacts(b.signature)?.sha384 && changes.every((c) => c.section !== 'signing certificate')) {
    unmeasured.push('signature bytes differ (ECDSA signatures are randomised; PCR8 measures only the certificate)');
  }
  const out: PcrDiff = { pcrs, changes, unmeasured, identical: pcrs.every((p) => p.equal) };
  const policy = changes.flatMap((c) => c.files ?? []).find((f) => f.path === RAMDISK_TRUST_POLICY);
  if (policy !== undefined) out.trustPolicy = { path: RAMDISK_TRUST_POLICY, a: policy.a?.sha384 ?? null, b: policy.b?.sha384 ?? null };
  return out;
}

export function diffEifs(a: Uint8Array, b: Uint8Array): PcrDiff {
  return diffParsedEifs(readEif(a), readEif(b));
}

export function formatPcrDiff(d: PcrDiff): string {
  const lines: string[] = [];
  for (const p of d.pcrs) lines.push(`PCR${p.pcr}: ${p.equal ? 'same     ' : 'DIFFERENT'}  ${p.a ?? '(absent)'}${p.equal ? '' : `\n                 ${p.b ?? '(absent)'}`}`);
  for (const c of d.changes) {
    lines.push('', `${c.section} differs (feeds PCR${c.pcrs.join(', PCR')}): ${c.a ? `${c.a.size} bytes` : 'absent'} → ${c.b ? `${c.b.size} bytes` : 'absent'}`);
    if (c.detail !== undefined) lines.push(`  ${c.detail}`);
    for (const f of c.files ?? []) {
      const show = (x: FileFacts | undefined): string => (x === undefined ? '-' : `${x.type} ${x.mode} ${x.size} bytes sha384 ${x.sha384.slice(0, 16)}…`);
      if (f.change === 'changed') lines.push(`  changed ${f.path} [${(f.fields ?? []).join(', ')}]: ${show(f.a)} → ${show(f.b)}`);
      else lines.push(`  ${f.change} ${f.path}: ${show(f.change === 'added' ? f.b : f.a)}`);
    }
  }
  if (d.trustPolicy !== undefined) {
    const t = d.trustPolicy;
    lines.push('', `trust policy ${t.path} differs: ${t.a === null ? 'absent' : `sha384 ${t.a}`} → ${t.b === null ? 'absent' : `sha384 ${t.b}`}`);
  }
  for (const u of d.unmeasured) lines.push('', `note: ${u}`);
  if (d.identical) lines.push('', 'All PCRs are equal.');
  return `${lines.join('\n')}\n`;
}
