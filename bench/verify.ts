// Attestation verification throughput, one thread, over the real valid AWS documents in
// shared/fixtures/nitro, each checked at its own timestamp. In the same run:
//   - ours: verifyAttestationDocument (warm: CA links cached, as in a long-running
//     verifier; cold: caches cleared before every document);
//   - floor: the two P-384 ECDSA verifications every document needs (COSE signature by the
//     leaf key, leaf certificate signature by its issuer), keys and inputs prepared ahead;
//   - @evervault/wasm-attestation-bindings: validateAttestationDocPcrs(base64, [PCRs]) — full
//     check (structure, chain, COSE, PCR0/1/2/8). Its clock is JS Date.now(), which we set to
//     the document timestamp around each call;
//   - @evervault/attestation-bindings (native): only attestEnclave(cert, pcrs, doc) exists. It
//     parses, checks structure, chain, COSE signature, then compares user_data with the
//     given TLS certificate's key — which we cannot satisfy for third-party documents, so it
//     returns false at that last step after all the crypto is done (we check that stderr says
//     exactly that). Its clock is the system clock, so each document runs in a child process
//     under libfaketime set to the document timestamp (skipped when libfaketime is absent).
// Run: npx tsx bench/verify.ts   (or npm run bench:verify). Writes "## verify" in bench/RESULTS.md.
import { spawnSync } from 'node:child_process';
import { createHash, verify as cryptoVerify, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Decoder, Tag } from 'cbor-x';
import { clearChainCache, coseSign1SigStructure, verifyAttestationDocument } from '../verifier/index.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = new URL('../../shared/fixtures/nitro/', import.meta.url);
const RESULTS = new URL('RESULTS.md', import.meta.url);
const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS ?? 0.5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const NATIVE_ITERATIONS = Number(process.env.BENCH_NATIVE_ITERATIONS ?? 60);

interface Doc { file: string; bytes: Uint8Array; timestamp: number; pcrs: Map<number, Uint8Array> }
const cborx = new Decoder({ mapsAsObjects: false, useRecords: false });
function coseParts(bytes: Uint8Array): [Uint8Array, unknown, Uint8Array, Uint8Array] {
  let v = cborx.decode(bytes) as unknown;
  if (v instanceof Tag) v = v.value;
  return v as [Uint8Array, unknown, Uint8Array, Uint8Array];
}
const INDEX = JSON.parse(readFileSync(new URL('INDEX.json', FIXTURES), 'utf8')) as Array<{ file: string; valid: boolean; timestamp_ms: number }>;
const DOCS: Doc[] = INDEX.filter((e) => e.valid).map((e) => {
  const bytes = new Uint8Array(readFileSync(new URL(e.file, FIXTURES)));
  const payload = cborx.decode(coseParts(bytes)[2]) as Map<string, unknown>;
  return { file: e.file, bytes, timestamp: e.timestamp_ms, pcrs: payload.get('pcrs') as Map<number, Uint8Array> };
});

/**
 * Rows are measured in interleaved rounds (row A, B, C, A, B, C, …), each round running
 * the row's documents for ≥ ROUND_SECONDS, and each row reports its best round: on a
 * shared machine the best round is the one least disturbed by other processes, and
 * interleaving exposes every row to the same background load.
 */
interface Row { name: string; set: string; docs: readonly Doc[]; once: (d: Doc) => void; best: number }
function runRound(row: Row): void {
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  do {
    for (const d of row.docs) row.once(d);
    n += row.docs.length;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  } while (elapsed < ROUND_SECONDS);
  row.best = Math.max(row.best, n / elapsed);
}
function measureRows(rows: Row[]): void {
  for (const row of rows) for (const d of row.docs) row.once(d); // warm-up (JIT, caches)
  for (let r = 0; r < ROUNDS; r++) for (const row of rows) runRound(row);
}

// ---------- ours ----------
function ours(d: Doc): void {
  verifyAttestationDocument(d.bytes, { time: { kind: 'document' }, pcrs: 'skip' });
}
function oursCold(d: Doc): void {
  clearChainCache();
  ours(d);
}

// ---------- floor: two P-384 signature checks ----------
interface FloorInput { sigStructure: Uint8Array; coseSignature: Uint8Array; leafKey: KeyObject; tbs: Uint8Array; certSignature: Uint8Array; issuerKey: KeyObject }
/** tbsCertificate and signatureValue of a DER certificate (two-level DER walk). */
function tbsAndSignature(der: Uint8Array): { tbs: Uint8Array; signature: Uint8Array } {
  const len = (at: number): [number, number] => {
    const b = der[at + 1] as number;
    if (b < 0x80) return [b, at + 2];
    let n = 0;
    for (let i = 0; i < (b & 0x7f); i++) n = n * 256 + (der[at + 2 + i] as number);
    return [n, at + 2 + (b & 0x7f)];
  };
  const [, tbsStart] = len(0);
  const [tbsLen, tbsContent] = len(tbsStart);
  const tbsEnd = tbsContent + tbsLen;
  const [algLen, algContent] = len(tbsEnd);
  const sigAt = algContent + algLen;
  const [sigLen, sigContent] = len(sigAt);
  return { tbs: der.subarray(tbsStart, tbsEnd), signature: der.subarray(sigContent + 1, sigContent + sigLen) };
}
const FLOOR = new Map<Doc, FloorInput>(DOCS.map((d) => {
  const [protectedHeader, , payload, signature] = coseParts(d.bytes);
  const p = cborx.decode(payload) as Map<string, unknown>;
  const leafDer = p.get('certificate') as Uint8Array;
  const bundle = p.get('cabundle') as Uint8Array[];
  const { tbs, signature: certSignature } = tbsAndSignature(new Uint8Array(leafDer));
  return [d, {
    sigStructure: coseSign1SigStructure(new Uint8Array(protectedHeader), new Uint8Array(payload)),
    coseSignature: new Uint8Array(signature),
    leafKey: new X509Certificate(leafDer).publicKey,
    tbs,
    certSignature,
    issuerKey: new X509Certificate(bundle[bundle.length - 1] as Uint8Array).publicKey,
  }];
}));
function floor(d: Doc): void {
  const f = FLOOR.get(d) as FloorInput;
  const a = cryptoVerify('sha384', f.sigStructure, { key: f.leafKey, dsaEncoding: 'ieee-p1363' }, f.coseSignature);
  const b = cryptoVerify('sha384', f.tbs, f.issuerKey, f.certSignature);
  if (!a || !b) throw new Error(`floor: signature did not verify for ${d.file}`);
}

// ---------- @evervault/wasm-attestation-bindings ----------
const require = createRequire(import.meta.url);
interface WasmBindings {
  initSync(m: { module: Uint8Array }): unknown;
  PCRs: new (p0?: string, p1?: string, p2?: string, p8?: string, alg?: string) => unknown;
  validateAttestationDocPcrs(docBase64: string, pcrs: unknown[]): boolean;
}
async function loadWasm(): Promise<WasmBindings> {
  const entry = require.resolve('@evervault/wasm-attestation-bindings');
  const mod = (await import(entry)) as WasmBindings;
  mod.initSync({ module: readFileSync(new URL('index_bg.wasm', `file://${entry}`)) });
  return mod;
}
const hex = (d: Doc, i: number): string => Buffer.from(d.pcrs.get(i) ?? new Uint8Array(48)).toString('hex');

// ---------- @evervault/attestation-bindings (native) under libfaketime ----------
const FAKETIME_LIBS = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/faketime/libfaketime.so.1'];
const NATIVE_CHILD = `
const fs = require('fs');
const b = require(require.resolve('@evervault/attestation-bindings', { paths: [process.cwd()] }));
const [file, certFile, p0, p1, p2, n] = process.argv.slice(1);
const doc = fs.readFileSync(file), cert = fs.readFileSync(certFile);
const pcrs = [{ hashAlgorithm: 'SHA384', pcr0: p0, pcr1: p1, pcr2: p2 }];
for (let i = 0; i < 5; i++) b.attestEnclave(cert, pcrs, doc);
const t = process.hrtime.bigint();
for (let i = 0; i < Number(n); i++) b.attestEnclave(cert, pcrs, doc);
process.stdout.write(String(Number(process.hrtime.bigint() - t) / Number(n)));
`;
function faketimeStamp(ms: number): string {
  // libfaketime "@" = start at that instant and let the clock run (UTC via TZ below).
  return `@${new Date(ms + 1000).toISOString().slice(0, 19).replace('T', ' ')}`;
}
function nativeRun(docs: readonly Doc[], lib: string, certFile: string): { perSecond: number; completedChecks: number; earlyFailures: string[] } {
  let totalNs = 0;
  let completed = 0;
  const early: string[] = [];
  for (const d of docs) {
    const file = fileURLToPath(new URL(d.file, FIXTURES));
    const r = spawnSync(process.execPath, ['-e', NATIVE_CHILD, file, certFile, hex(d, 0), hex(d, 1), hex(d, 2), String(NATIVE_ITERATIONS)], {
      cwd: ROOT,
      env: { ...process.env, LD_PRELOAD: lib, FAKETIME: faketimeStamp(d.timestamp), TZ: 'UTC' },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    totalNs += Number(r.stdout);
    // Every call must have failed only at the final user_data ⇄ TLS key comparison.
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    const lastStep = lines.every((l) => /User data was not set|public key/i.test(l));
    if (lastStep && lines.length > 0) completed += 1;
    else early.push(`${d.file}: ${lines.find((l) => !/User data was not set|public key/i.test(l)) ?? r.stderr.slice(0, 200)}`);
  }
  return { perSecond: docs.length / (totalNs / 1e9), completedChecks: completed, earlyFailures: early };
}

// ---------- run ----------
const rate = (n: number): string => `${Math.round(n).toLocaleString('en-US')}`;
const wasm = await loadWasm();
const realNow = Date.now;
const wasmAccepts = (d: Doc): boolean => {
  Date.now = () => d.timestamp;
  try {
    const silent = console.error;
    console.error = () => {};
    try {
      return wasm.validateAttestationDocPcrs(Buffer.from(d.bytes).toString('base64'), [new wasm.PCRs(hex(d, 0), hex(d, 1), hex(d, 2), hex(d, 8), 'SHA384')]);
    } finally {
      console.error = silent;
    }
  } finally {
    Date.now = realNow;
  }
};
const wasmSet = DOCS.filter(wasmAccepts);
const wasmRefused = DOCS.filter((d) => !wasmSet.includes(d)).map((d) => d.file.replace('docs/', ''));
const wasmOnce = (d: Doc): void => {
  Date.now = () => d.timestamp;
  try {
    if (!wasm.validateAttestationDocPcrs(Buffer.from(d.bytes).toString('base64'), [new wasm.PCRs(hex(d, 0), hex(d, 1), hex(d, 2), hex(d, 8), 'SHA384')])) throw new Error(`wasm refused ${d.file}`);
  } finally {
    Date.now = realNow;
  }
};

console.log(`${DOCS.length} valid documents; wasm peer accepts ${wasmSet.length} (refuses ${wasmRefused.join(', ')})`);
const all = `all ${DOCS.length}`;
const sub = `wasm ${wasmSet.length}`;
const rows: Row[] = [
  { name: 'floor: 2 × P-384 verify (node:crypto, prepared)', set: all, docs: DOCS, once: floor, best: 0 },
  { name: 'attested-pack verifyAttestationDocument (warm)', set: all, docs: DOCS, once: ours, best: 0 },
  { name: 'attested-pack verifyAttestationDocument (cold caches)', set: all, docs: DOCS, once: oursCold, best: 0 },
  { name: 'floor: 2 × P-384 verify (node:crypto, prepared)', set: sub, docs: wasmSet, once: floor, best: 0 },
  { name: 'attested-pack verifyAttestationDocument (warm)', set: sub, docs: wasmSet, once: ours, best: 0 },
  { name: '@evervault/wasm-attestation-bindings validateAttestationDocPcrs', set: sub, docs: wasmSet, once: wasmOnce, best: 0 },
];
measureRows(rows);
const results: Array<[string, string, number]> = [];
const add = (name: string, set: string, perSecond: number): void => {
  results.push([name, set, perSecond]);
  console.log(`${name.padEnd(64)} ${set.padEnd(8)} ${rate(perSecond).padStart(7)} docs/s`);
};
for (const row of rows) add(row.name, row.set, row.best);
const [floorAll, oursAll, oursColdAll, floorSub, oursSub, wasmRate] = rows.map((r) => r.best) as [number, number, number, number, number, number];

const lib = FAKETIME_LIBS.find((p) => existsSync(p));
let nativeNote: string;
let nativeRate: number | undefined;
if (lib === undefined) {
  nativeNote = 'not measured: libfaketime is not installed (apt-get install libfaketime)';
  console.log(`native peer ${nativeNote}`);
} else {
  const certFile = fileURLToPath(new URL('aws_nitro_root_g1.pem', FIXTURES));
  // Any parseable certificate will do: the native call compares its key with user_data last.
  const der = Buffer.from(readFileSync(certFile, 'utf8').replace(/-----[^-]+-----|\s+/g, ''), 'base64');
  const derFile = join(tmpdir(), `bench-verify-${createHash('sha256').update(der).digest('hex').slice(0, 8)}.der`);
  writeFileSync(derFile, der);
  const native = nativeRun(wasmSet, lib, derFile);
  nativeRate = native.perSecond;
  nativeNote = `${native.completedChecks}/${wasmSet.length} documents reached the final step; ${native.earlyFailures.length} failed earlier${native.earlyFailures.length > 0 ? ` (${native.earlyFailures.slice(0, 3).join('; ')})` : ''}`;
  add('@evervault/attestation-bindings attestEnclave (native)', `wasm ${wasmSet.length}`, nativeRate);
  console.log(`  native: ${nativeNote}`);
}

// ---------- RESULTS.md ----------
const cpu = cpus()[0]?.model ?? 'unknown';
const nproc = cpus().length;
const pct = (a: number, b: number): string => `${Math.round((a / b) * 100)}%`;
const section = `## verify

Attestation documents verified per second, one thread, over the real valid AWS documents in
\`shared/fixtures/nitro\` (each at its own timestamp), \`npx tsx bench/verify.ts\`.
Machine: ${nproc} × ${cpu}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; best of ${ROUNDS}
interleaved rounds of ≥ ${ROUND_SECONDS} s per row (load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')}).

| what | documents | docs/s |
|---|---|---:|
${results.map(([n, s, r]) => `| ${n} | ${s} | ${rate(r)} |`).join('\n')}

- Ours (warm) is ${pct(oursAll, floorAll)} of the floor on all ${DOCS.length} documents (${pct(oursSub, floorSub)} on the peers' set); cold caches: ${pct(oursColdAll, floorAll)}.
- vs wasm peer: ${(oursSub / wasmRate).toFixed(1)}× faster${nativeRate === undefined ? '' : `; vs native peer: ${(oursSub / nativeRate).toFixed(1)}× faster`} (same ${wasmSet.length} documents).
- Floor = the two P-384 ECDSA verifications every document needs (COSE_Sign1 by the leaf key,
  leaf certificate by its issuer) with keys, Sig_structure and TBS prepared outside the loop.
  "Warm" keeps the verified CA→CA links and parsed CA certificates cached (a long-running
  verifier); the leaf and the COSE signature are always checked. "Cold" clears the caches
  before every document, so all five certificate signatures are checked.
- wasm peer: \`validateAttestationDocPcrs(base64, [PCRs(PCR0,1,2,8)])\`, a full check; its clock
  is JS \`Date.now()\`, set to the document timestamp around each call; it also base64-decodes
  its input. It refuses ${wasmRefused.length} valid documents (${wasmRefused.join(', ')}: 1024-byte
  public_key/user_data/nonce fields, which the AWS spec allows), so peers are compared on the
  ${wasmSet.length} documents it accepts.
- native peer: the package only exports \`attestEnclave(cert, pcrs, doc)\`, which after parsing,
  chain and COSE checks compares user_data with the TLS certificate's key; with a stand-in
  certificate it returns false at that last step, after all the cryptographic work (stderr
  checked per document: ${nativeNote}). Its clock is the system clock, so each document runs
  in its own child process under libfaketime at the document timestamp, ${NATIVE_ITERATIONS}
  calls after 5 warm-up calls; it also prints one stderr line per call.
`;
let text = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : '# Benchmark results\n';
const start = text.indexOf('\n## verify\n');
if (start >= 0) {
  const next = text.indexOf('\n## ', start + 1);
  text = text.slice(0, start + 1) + section + (next >= 0 ? text.slice(next + 1) : '');
} else {
  text = `${text.trimEnd()}\n\n${section}`;
}
writeFileSync(RESULTS, text.endsWith('\n') ? text : `${text}\n`);
console.log(`wrote the "## verify" section of ${fileURLToPath(RESULTS)}`);
