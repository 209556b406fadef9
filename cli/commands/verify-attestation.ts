// `attested-pack verify attestation FILE...`: check AWS Nitro attestation documents offline
// and say, check by check, what was verified and against which trust anchor.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import {
  isVerificationError,
  parseAttestationDocument,
  trustAnchorInfo,
  verifyAttestationDocument,
  type AttestationDocument,
  type CheckResult,
  type TrustInfo,
} from '../../verifier/index.ts';
import { EXIT_OK, EXIT_REFUSED, EXIT_USAGE, UsageError, type Command } from '../command.ts';
import { describeTrustAnchor, parseVerifyOptions, toAttestationOptions, VERIFY_OPTIONS, VERIFY_OPTIONS_HELP } from '../verify-options.ts';

/** Text files (hex/base64) of a 16 KiB document stay far below this. */
const MAX_INPUT_FILE_BYTES = 256 * 1024;

export type DocumentEncoding = 'cbor' | 'hex' | 'base64';

/** COSE_Sign1 starts with an array of 4 (0x84), its indefinite form (0x9f), or tag 18 (0xd2). */
function looksLikeCose(bytes: Uint8Array): boolean {
  return bytes[0] === 0x84 || bytes[0] === 0x9f || (bytes[0] === 0xd2 && (bytes[1] === 0x84 || bytes[1] === 0x9f));
}

/**
 * Raw CBOR is used as is; otherwise the file is read as text holding hex (optionally
 * 0x-prefixed) or base64 (standard or URL-safe), whitespace ignored. Whatever decodes to
 * something that starts like a COSE_Sign1 wins, in that order; if nothing does, the raw
 * bytes go to the verifier, which says what is wrong with them.
 */
export function decodeDocumentFile(raw: Uint8Array): { bytes: Uint8Array; encoding: DocumentEncoding } {
  if (looksLikeCose(raw)) return { bytes: raw, encoding: 'cbor' };
  const text = Buffer.from(raw).toString('latin1').replace(/\s+/g, '');
  const hex = text.startsWith('0x') ? text.slice(2) : text;
  if (hex.length > 0 && hex.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(hex)) {
    const bytes = new Uint8Array(Buffer.from(hex, 'hex'));
    if (looksLikeCose(bytes)) return { bytes, encoding: 'hex' };
  }
  if (text.length > 0 && /^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
    const bytes = new Uint8Array(Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
    if (looksLikeCose(bytes)) return { bytes, encoding: 'base64' };
  }
  return { bytes: raw, encoding: 'cbor' };
}

/**
 * Why a file that does not start like a COSE_Sign1 (raw, hex or base64) is not one, in
 * words a person can act on — instead of a CBOR parser's message about the first byte of
 * a JSON or text file. Undefined for binary data: the verifier says what is wrong.
 */
export function notADocument(raw: Uint8Array): string | undefined {
  const text = Buffer.from(raw).toString('latin1');
  const start = text.trimStart();
  if (start.startsWith('{') || start.startsWith('[')) {
    const receipt = start.includes('"attested-pack/receipt/v1"') ? " (it looks like a receipt: use 'attested-pack verify receipt')" : '';
    return `this looks like JSON, not a CBOR attestation document${receipt}`;
  }
  if (start.startsWith('-----BEGIN')) return 'this is a PEM file, not an attestation document';
  // Printable text (with line breaks) that did not decode as hex or base64 of a document.
  if (raw.length > 0 && /^[\t\n\r\x20-\x7e]+$/.test(text)) {
    return 'this is text, but not the hex or base64 of a CBOR attestation document (COSE_Sign1)';
  }
  return undefined;
}

interface FileReport {
  file: string;
  ok: boolean;
  encoding: DocumentEncoding | null;
  moduleId: string | null;
  timestamp: number | null;
  pcrs: Record<string, string> | null;
  debug: boolean | null;
  pcrsChecked: boolean;
  checkedAt: number | null;
  checks: CheckResult[];
  trust: TrustInfo | null;
  error: { code: string; message: string } | null;
}

function pcrHex(doc: AttestationDocument): Record<string, string> {
  return Object.fromEntries([...doc.pcrs].map(([i, v]) => [String(i), Buffer.from(v).toString('hex')]));
}

const MARK: Record<CheckResult['status'], string> = { pass: '✓', fail: '✗', skipped: '-' };

/** Width of the longest check name ("certificate-validity"), so every file lines up. */
const NAME_WIDTH = 20;

/**
 * Document text (module_id, messages quoting it) reaches a terminal: show control
 * characters as escapes so a document cannot rewrite what the reader sees.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u{${c.charCodeAt(0).toString(16)}}`);
}

/** Collects text and writes it to `out` in blocks of about 64 KiB. */
class BufferedLines {
  private parts: string[] = [];
  private size = 0;
  private readonly out: Writable;

  constructor(out: Writable) {
    this.out = out;
  }

  write(text: string): void {
    this.parts.push(text);
    this.size += text.length;
    if (this.size >= 64 * 1024) this.flush();
  }

  flush(): void {
    if (this.parts.length === 0) return;
    this.out.write(this.parts.join(''));
    this.parts = [];
    this.size = 0;
  }
}

function printHuman(out: { write(text: string): unknown }, r: FileReport): void {
  const info = (label: string, value: string): void => {
    out.write(`  ${label.padEnd(NAME_WIDTH + 2)}  ${printable(value)}\n`);
  };
  out.write(`${r.file}\n`);
  for (const c of r.checks) {
    out.write(`  ${MARK[c.status]} ${c.name.padEnd(NAME_WIDTH)}  ${c.status === 'skipped' ? 'skipped: ' : ''}${printable(c.detail ?? '')}\n`);
  }
  if (r.trust !== null) info('trust anchor', describeTrustAnchor(r.trust));
  if (r.moduleId !== null) info(r.ok ? 'module' : 'module (unverified)', r.moduleId);
  if (r.timestamp !== null) info('timestamp', new Date(r.timestamp).toISOString());
  if (r.pcrs !== null) {
    // PCR0/1/2 always (all zero = debug mode); other PCRs only when something was measured.
    for (const [i, v] of Object.entries(r.pcrs)) {
      if (/^0+$/.test(v) && !['0', '1', '2'].includes(i)) continue;
      info(`PCR${i}`, v);
    }
  }
  if (r.ok) {
    const notes = [
      r.pcrsChecked ? '' : ' (authenticity only: PCRs NOT checked, --no-pcr-check)',
      r.debug === true ? ' — DEBUG-MODE ENCLAVE (allowed)' : '',
      r.trust !== null && r.trust.kind !== 'aws' ? ` — against a ${r.trust.kind.toUpperCase()} root, not AWS` : '',
    ];
    info('RESULT', `VERIFIED${notes.join('')}`);
  } else {
    info('RESULT', `REFUSED  ${r.error?.code ?? ''}: ${r.error?.message ?? ''}`);
  }
  out.write('\n');
}

export const verifyAttestationCommand: Command = {
  path: ['verify', 'attestation'],
  summary: 'verify AWS Nitro attestation documents (signature, chain, time, PCRs)',
  help: `Usage: attested-pack verify attestation FILE... [options]

Verifies each AWS Nitro Enclaves attestation document offline: strict COSE_Sign1 and
NSM payload format, certificate chain to the AWS Nitro root G1 (or --root), certificate
validity at the chosen time, the ES384 signature, the document's age, debug mode, and
the expected PCRs. Every check is listed with its result.

FILE may hold the raw CBOR bytes, or text with the same bytes as hex (0x optional) or
base64 (standard or URL-safe); whitespace is ignored. The encoding is detected from what
decodes to a COSE_Sign1.

Without any PCR expectation (--pcr / --manifest) the signature and chain are still
checked, but the PCRs are reported as NOT checked and the exit code is 1, unless
--no-pcr-check says that authenticity alone is what you want.

Options:
${VERIFY_OPTIONS_HELP}
  --no-pcr-check          accept a document without checking PCRs (authenticity only)
  --json                  one JSON object per file and line, in order: file, ok,
                          moduleId, timestamp, pcrs (hex), checks, trust, error {code, message}

Exit codes: 0 every document verified; 1 any document refused; 2 usage error or an
unreadable file (its JSON line has error.code FILE_UNREADABLE).

Examples:
  attested-pack verify attestation doc.cbor --manifest build-manifest.json
  attested-pack verify attestation old.b64 --at document --no-pcr-check
  attested-pack verify attestation doc.cbor --pcr 0=<96 hex> --max-age 5m --json
`,
  options: { ...VERIFY_OPTIONS, 'no-pcr-check': { type: 'boolean' }, json: { type: 'boolean' } },
  positionals: { min: 1, name: 'FILE (an attestation document)' },
  async run({ values, positionals, stdout, cwd }) {
    const cli = parseVerifyOptions(values, cwd);
    const noPcrCheck = values['no-pcr-check'] === true;
    if (noPcrCheck && cli.expectedPcrs.size > 0) throw new UsageError('--no-pcr-check contradicts --pcr/--manifest');
    const options = toAttestationOptions(cli);
    const json = values.json === true;
    let exit = EXIT_OK;
    // Reports go out in blocks, not one write per document: a batch of thousands of files
    // would otherwise spend a system call per line.
    const out = new BufferedLines(stdout);
    for (const file of positionals) {
      const report = verifyFile(resolve(cwd, file), file, options, noPcrCheck);
      if (report.error?.code === 'FILE_UNREADABLE') exit = EXIT_USAGE;
      else if (!report.ok && exit === EXIT_OK) exit = EXIT_REFUSED;
      if (json) out.write(`${JSON.stringify(report)}\n`);
      else printHuman(out, report);
    }
    out.flush();
    return exit;
  },
};

/**
 * The file's bytes, or 'too-large' without reading past `max`. One open and one fstat per
 * file (batches of thousands of documents), and a file that grows while being read is
 * still cut at `max` + 1 bytes.
 */
function readBounded(path: string, max: number): Uint8Array | 'too-large' {
  const fd = openSync(path, 'r');
  try {
    if (fstatSync(fd).size > max) return 'too-large';
    const buf = new Uint8Array(max + 1);
    let n = 0;
    for (let got = -1; got !== 0 && n <= max; n += got) got = readSync(fd, buf, n, max + 1 - n, null);
    return n > max ? 'too-large' : buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

function verifyFile(path: string, file: string, options: ReturnType<typeof toAttestationOptions>, noPcrCheck: boolean): FileReport {
  const report: FileReport = {
    file, ok: false, encoding: null, moduleId: null, timestamp: null, pcrs: null, debug: null,
    pcrsChecked: options.pcrs !== 'skip', checkedAt: null, checks: [], trust: null, error: null,
  };
  let raw: Uint8Array | 'too-large';
  try {
    raw = readBounded(path, MAX_INPUT_FILE_BYTES);
  } catch (e) {
    report.error = { code: 'FILE_UNREADABLE', message: `cannot read '${file}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
    return report;
  }
  if (raw === 'too-large') {
    report.error = { code: 'INPUT_TOO_LARGE', message: `file is larger than ${MAX_INPUT_FILE_BYTES} bytes` };
    return report;
  }
  const { bytes, encoding } = decodeDocumentFile(raw);
  report.encoding = encoding;
  const notDocument = bytes === raw ? notADocument(raw) : undefined;
  if (notDocument !== undefined) {
    report.error = { code: 'MALFORMED_CBOR', message: notDocument };
    report.checks = [{ name: 'cose-structure', status: 'fail', detail: notDocument }];
    return report;
  }
  try {
    const r = verifyAttestationDocument(bytes, options);
    Object.assign(report, {
      moduleId: r.document.moduleId, timestamp: r.document.timestamp, pcrs: pcrHex(r.document), debug: r.debug,
      checkedAt: r.checkedAt, checks: r.checks, trust: r.trust,
    });
    if (r.pcrsUnchecked && !noPcrCheck) {
      report.checks = r.checks.map((c) => (c.name === 'pcrs' ? { name: 'pcrs', status: 'fail', detail: 'no PCR expectation given (--pcr, --manifest, or --no-pcr-check)' } : c));
      report.error = {
        code: 'PCR_POLICY_EMPTY',
        message: 'signature and chain verified, but no PCR expectation was given (--pcr, --manifest); pass --no-pcr-check to accept authenticity alone',
      };
    } else {
      report.ok = true;
    }
  } catch (e) {
    if (!isVerificationError(e)) throw e;
    // A CBOR parser's message means little without saying what it was reading.
    const message = e.code === 'MALFORMED_CBOR' && e.detail?.check === 'cose-structure' ? `not a well-formed CBOR attestation document: ${e.message}` : e.message;
    report.error = { code: e.code, message };
    report.checks = (e.detail?.checks as CheckResult[] | undefined) ?? [];
    try {
      report.trust = trustAnchorInfo(options.root);
    } catch {
      // A root that cannot be parsed has already been reported as the error.
    }
    // Show what the document claims, when it parses, to help the reader; it is unverified.
    try {
      const parsed = parseAttestationDocument(bytes).document;
      Object.assign(report, { moduleId: parsed.moduleId, timestamp: parsed.timestamp, pcrs: pcrHex(parsed) });
    } catch {
      // Unparseable: nothing more to show.
    }
  }
  return report;
}
