// Reading CloudTrail as AWS delivers it: the KMS developer guide's example events in a
// gzipped delivery file and in lookup-events output (test/fixtures/cloudtrail/README.md),
// and every malformed shape refused with a stable code and a clear message.
import { describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readTrail } from '../cli/audit/cloudtrail-files.ts';
import { AuditError } from '../cli/audit/errors.ts';
import { readReceiptStore } from '../cli/audit/receipt-store.ts';
import { reconcile } from '../cli/audit/reconcile.ts';
import { sampleManifest } from './receipt-fixtures.ts';

const FIXTURES = new URL('./fixtures/cloudtrail/', import.meta.url).pathname;
const DELIVERY = join(FIXTURES, '111122223333_CloudTrail_us-west-2_20200727T2300Z_aws-docs.json.gz');
const LOOKUP = join(FIXTURES, 'lookup-events.json');
const KEY = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const DIGEST = 'ee0d451a2ff9aaaa9bccd07700b9cab123a0ac2386ef7e88ad5ea6c72ebabea840957328e2ec890b408c9b06cb8ebe6a';

const tmp = mkdtempSync(join(tmpdir(), 'audit-ct-'));
let n = 0;
function file(content: string | Buffer, gzip = false): string {
  const f = join(tmp, `f${n++}.json${gzip ? '.gz' : ''}`);
  writeFileSync(f, gzip ? gzipSync(content) : content);
  return f;
}

function code(paths: string[], max?: number): string {
  try {
    readTrail(paths, max);
  } catch (e) {
    if (e instanceof AuditError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'ok';
}

const event = (over: Record<string, unknown> = {}) => ({
  eventTime: '2020-07-27T22:58:24Z', eventSource: 'kms.amazonaws.com', eventName: 'Decrypt', awsRegion: 'us-west-2',
  requestID: 'b4a65126-30d5-4b28-98b9-9153da559963', eventID: 'e5a2f202-ba1a-467c-b4ba-f729d45ae521',
  additionalEventData: { recipient: { attestationDocumentModuleId: 'i-1-enc1', attestationDocumentEnclaveImageDigest: DIGEST } },
  resources: [{ accountId: '111122223333', type: 'AWS::KMS::Key', ARN: KEY }], ...over,
});

describe('CloudTrail input', () => {
  it('reads the AWS guide example as a gzipped delivery file (hex and base64 PCRs, other services counted)', () => {
    const t = readTrail([DELIVERY]);
    expect(t.otherEvents).toBe(1);
    expect(t.events).toHaveLength(2);
    const [hex, b64] = t.events;
    expect(hex).toMatchObject({ eventName: 'Decrypt', requestId: 'b4a65126-30d5-4b28-98b9-9153da559963', keyArn: KEY, errorCode: null, time: Date.parse('2020-07-27T22:58:24Z') });
    expect(hex!.recipient?.moduleId).toBe('i-123456789abcde123-enc123456789abcde12');
    expect(hex!.recipient?.pcrs.get(0)).toBe(DIGEST);
    expect([...hex!.recipient!.pcrs.keys()]).toEqual([0, 1, 2, 3, 4, 8]);
    expect(b64!.recipient?.pcrs).toEqual(hex!.recipient?.pcrs);
  });

  it('reads lookup-events output (the CloudTrailEvent strings)', () => {
    const t = readTrail([LOOKUP]);
    expect(t.events.map((e) => [e.eventName, e.requestId, e.keyArn])).toEqual([
      ['Decrypt', 'b4a65126-30d5-4b28-98b9-9153da559963', KEY],
      ['GenerateDataKey', 'e0eb83e3-63bc-11e4-bc2b-4198b6150d5c', KEY],
    ]);
  });

  it('a directory is read recursively (dot files are writers\' temporaries and skipped)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'audit-ct-dir-'));
    mkdirSync(join(dir, 'AWSLogs', 'us-west-2'), { recursive: true });
    copyFileSync(DELIVERY, join(dir, 'AWSLogs', 'us-west-2', 'a.json.gz'));
    copyFileSync(LOOKUP, join(dir, 'lookup.json'));
    writeFileSync(join(dir, 'AWSLogs', '.partial.tmp'), 'garbage');
    // the same Decrypt twice (delivery file and lookup-events) is one event, read twice
    expect(readTrail([dir]).events).toHaveLength(4);
    expect(readTrail([dir]).files).toBe(2);
  });

  it.each([
    ['not JSON', () => file('{"Records": ['), /AUDIT_CLOUDTRAIL_MALFORMED: .*not strict JSON/],
    ['a BOM', () => file(`\ufeff${JSON.stringify({ Records: [] })}`), /AUDIT_CLOUDTRAIL_MALFORMED/],
    ['duplicate member names', () => file(`{"Records":[${JSON.stringify(event()).replace('"eventName":"Decrypt"', '"eventName":"Decrypt","eventName":"Encrypt"')}]}`), /AUDIT_CLOUDTRAIL_MALFORMED: .*duplicate/i],
    ['an unknown top-level shape', () => file(JSON.stringify({ Records: [], Extra: 1 })), /neither a CloudTrail delivery file/],
    ['a CloudTrail digest file', () => file(JSON.stringify({ awsAccountId: '111122223333', logFiles: [] }), true), /neither a CloudTrail delivery file/],
    ['Records not an array', () => file(JSON.stringify({ Records: {} })), /must be an array/],
    ['an event that is not an object', () => file(JSON.stringify({ Records: [1] })), /must be a JSON object/],
    ['no requestID', () => file(JSON.stringify({ Records: [event({ requestID: undefined })] })), /requestID must be a string/],
    ['a bad eventTime', () => file(JSON.stringify({ Records: [event({ eventTime: 'yesterday' })] })), /eventTime/],
    ['an unknown recipient field', () => file(JSON.stringify({ Records: [event({ additionalEventData: { recipient: { attestationDocumentModuleId: 'i-1-enc1', attestationDocumentEnclaveImageDigest: DIGEST, attestationDocumentEnclavePCR9: DIGEST } } })] })), /PCR9 is not a field/],
    ['a PCR of the wrong length', () => file(JSON.stringify({ Records: [event({ additionalEventData: { recipient: { attestationDocumentModuleId: 'i-1-enc1', attestationDocumentEnclaveImageDigest: 'abcd' } } })] })), /48 bytes as hex or base64/],
    ['a recipient without image digest', () => file(JSON.stringify({ Records: [event({ additionalEventData: { recipient: { attestationDocumentModuleId: 'i-1-enc1' } } })] })), /lacks the module id or the image digest/],
    ['lookup-events with an unknown member', () => file(JSON.stringify({ Events: [{ CloudTrailEvent: JSON.stringify(event()), Surprise: 1 }] })), /unknown member "Surprise"/],
    ['lookup-events EventId differing from the event', () => file(JSON.stringify({ Events: [{ EventId: 'other', CloudTrailEvent: JSON.stringify(event()) }] })), /EventId differs/],
    ['lookup-events CloudTrailEvent not a string', () => file(JSON.stringify({ Events: [{ CloudTrailEvent: event() }] })), /must be a JSON string/],
    ['truncated gzip', () => { const f = join(tmp, 'trunc.json.gz'); writeFileSync(f, gzipSync(JSON.stringify({ Records: [event()] })).subarray(0, 20)); return f; }, /not a valid gzip file/],
    ['a missing file', () => join(tmp, 'nope.json.gz'), /AUDIT_INPUT_UNREADABLE/],
  ])('refuses %s', (_name, make, expected) => {
    expect(code([make()])).toMatch(expected);
  });

  it('stops a gzip bomb at the decompression cap', () => {
    const bomb = file(Buffer.alloc(4 * 1024 * 1024, 0x20), true);
    expect(code([bomb], 1024 * 1024)).toMatch(/AUDIT_INPUT_TOO_LARGE: .*decompresses to more than 1048576 bytes/);
  });
});

describe('audit refusals beyond the file format', () => {
  it('two different events with one request id are a conflict (AUDIT_EVENT_CONFLICT)', () => {
    const t = readTrail([file(JSON.stringify({ Records: [event(), event({ eventID: 'another-event-id' })] }))]);
    expect(() => reconcile({ ...t, store: { receipts: [], failed: [] }, manifests: [], keys: [] })).toThrow(/AUDIT_EVENT_CONFLICT|appears in two different events/);
    try {
      reconcile({ ...t, store: { receipts: [], failed: [] }, manifests: [], keys: [] });
    } catch (e) {
      expect((e as AuditError).code).toBe('AUDIT_EVENT_CONFLICT');
    }
  });

  it('a receipt store with files outside <identity>/<environment>/ is refused (AUDIT_RECEIPT_STORE_MALFORMED)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'audit-store-'));
    writeFileSync(join(dir, 'stray.json'), '{}');
    expect(() => readReceiptStore(dir, { manifests: [] })).toThrow(AuditError);
    try {
      readReceiptStore(dir, { manifests: [] });
    } catch (e) {
      expect((e as AuditError).code).toBe('AUDIT_RECEIPT_STORE_MALFORMED');
    }
  });

  it('a receipt file named other than <revision>.json is reported as a failed receipt', () => {
    const dir = mkdtempSync(join(tmpdir(), 'audit-store-'));
    mkdirSync(join(dir, 'api', 'prod'), { recursive: true });
    writeFileSync(join(dir, 'api', 'prod', 'latest.json'), '{}');
    expect(readReceiptStore(dir, { manifests: [] }).failed).toEqual([{ key: 'api/prod/latest.json', code: 'RECEIPT_KEY_MISMATCH', message: 'file name is not <revision>.json' }]);
  });
});

describe('reconcile: answered calls from images the manifests do not name', () => {
  const manifest = sampleManifest();
  const recipient = (pcr0: string, pcr1: string, pcr2: string) => ({
    attestationDocumentModuleId: 'i-1-enc1', attestationDocumentEnclaveImageDigest: pcr0, attestationDocumentEnclavePCR1: pcr1, attestationDocumentEnclavePCR2: pcr2,
  });
  it('an unknown image and a debug-mode enclave that KMS answered are findings (and unexplained)', () => {
    const zero = '0'.repeat(96);
    const t = readTrail([file(JSON.stringify({ Records: [
      event({ requestID: 'r-known', eventID: 'e1', additionalEventData: { recipient: recipient(manifest.pcrs['0'], manifest.pcrs['1'], manifest.pcrs['2']) } }),
      event({ requestID: 'r-unknown', eventID: 'e2', additionalEventData: { recipient: recipient(manifest.pcrs['0'], manifest.pcrs['1'], 'ab'.repeat(48)) } }),
      event({ requestID: 'r-debug', eventID: 'e3', additionalEventData: { recipient: recipient(zero, zero, zero) } }),
    ] }))]);
    const r = reconcile({ ...t, store: { receipts: [], failed: [] }, manifests: [manifest], keys: [] });
    expect(r.findings.unknownImage.map((e) => e.requestId)).toEqual(['r-unknown']);
    expect(r.findings.debugMode.map((e) => e.requestId)).toEqual(['r-debug']);
    expect(r.findings.unexplained.map((e) => [e.requestId, e.image])).toEqual([['r-known', 'manifest'], ['r-unknown', 'unknown'], ['r-debug', 'debug']]);
    expect(r.clean).toBe(false);
  });
});
