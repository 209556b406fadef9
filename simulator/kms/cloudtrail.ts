// SIMULATED CloudTrail for the KMS emulator: one event per answered KMS call, shaped like the
// AWS KMS developer guide's examples ("Monitoring requests for Nitro enclaves",
// https://docs.aws.amazon.com/kms/latest/developerguide/ct-nitro-enclave.html): the same
// members and nesting, `requestID` equal to the x-amzn-RequestId the client received,
// `additionalEventData.recipient` with the attestation document's module id, image digest
// (PCR0) and PCR1/2/3/4/8 when the request carried a valid Recipient, `errorCode` and
// `errorMessage` when KMS refused. `userAgent` starts with SIMULATED so nobody mistakes these
// for AWS's. Written as CloudTrail delivers them to S3: gzipped `{"Records":[…]}` files.
import { randomUUID } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { blobKeyId } from './ciphertext.ts';
import type { KmsError } from './errors.ts';
import type { AttestedRecipient } from './recipient.ts';

export const SIMULATED_USER_AGENT = 'SIMULATED attested-pack kms-emulator';

export interface KmsCallRecord {
  requestId: string;
  time: Date;
  operation: string;
  callerArn: string;
  accessKeyId: string;
  region: string;
  accountId: string;
  sourceIp: string;
  clientUserAgent: string;
  input: Record<string, unknown>;
  output?: Record<string, unknown>;
  error?: KmsError;
  recipient?: AttestedRecipient;
}

const PCR_FIELDS: ReadonlyArray<[number, string]> = [
  [0, 'attestationDocumentEnclaveImageDigest'],
  [1, 'attestationDocumentEnclavePCR1'],
  [2, 'attestationDocumentEnclavePCR2'],
  [3, 'attestationDocumentEnclavePCR3'],
  [4, 'attestationDocumentEnclavePCR4'],
  [8, 'attestationDocumentEnclavePCR8'],
];

function recipientData(r: AttestedRecipient): Record<string, string> {
  const out: Record<string, string> = { attestationDocumentModuleId: r.moduleId };
  for (const [index, field] of PCR_FIELDS) {
    const v = r.pcrs.get(index);
    if (v !== undefined) out[field] = Buffer.from(v).toString('hex');
  }
  return out;
}

/** What CloudTrail keeps of the request: names and parameters, never key material or data. */
function requestParameters(input: Record<string, unknown>): Record<string, unknown> | null {
  const out: Record<string, unknown> = {};
  const copy: Record<string, string> = {
    KeyId: 'keyId', EncryptionAlgorithm: 'encryptionAlgorithm', EncryptionContext: 'encryptionContext',
    NumberOfBytes: 'numberOfBytes', KeySpec: 'keySpec', SigningAlgorithm: 'signingAlgorithm', MessageType: 'messageType',
  };
  for (const [from, to] of Object.entries(copy)) if (input[from] !== undefined) out[to] = input[from];
  return Object.keys(out).length === 0 ? null : out;
}

/** The key ARN for `resources`: KMS's answer, else the request's key, else the ciphertext's. */
function keyArnOf(r: KmsCallRecord): string | undefined {
  const answered = r.output?.KeyId;
  if (typeof answered === 'string' && answered.includes(':key/')) return answered;
  const asked = r.input.KeyId;
  if (typeof asked === 'string' && /^arn:aws:kms:[^:]+:\d{12}:key\//.test(asked)) return asked;
  if (typeof asked === 'string' && /^[0-9a-f-]{36}$/.test(asked)) return `arn:aws:kms:${r.region}:${r.accountId}:key/${asked}`;
  if (typeof r.input.CiphertextBlob === 'string') {
    try {
      return `arn:aws:kms:${r.region}:${r.accountId}:key/${blobKeyId(Buffer.from(r.input.CiphertextBlob, 'base64'))}`;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function userIdentity(r: KmsCallRecord): Record<string, unknown> {
  const assumed = /^arn:aws:sts::(\d{12}):assumed-role\/([^/]+)\/(.+)$/.exec(r.callerArn);
  const account = /^arn:aws:(?:iam|sts)::(\d{12}):/.exec(r.callerArn)?.[1] ?? r.accountId;
  if (assumed !== null) {
    return {
      type: 'AssumedRole', principalId: `AROASIMULATED:${assumed[3]}`, arn: r.callerArn, accountId: account, accessKeyId: r.accessKeyId,
      sessionContext: { sessionIssuer: { type: 'Role', principalId: 'AROASIMULATED', arn: `arn:aws:iam::${account}:role/${assumed[2]}`, accountId: account, userName: assumed[2] } },
    };
  }
  return { type: 'IAMUser', principalId: 'AIDASIMULATED', arn: r.callerArn, accountId: account, accessKeyId: r.accessKeyId, userName: r.callerArn.split('/').pop() };
}

/** One CloudTrail event, members in the order of the AWS examples. */
export function cloudTrailEvent(r: KmsCallRecord): Record<string, unknown> {
  const arn = keyArnOf(r);
  return {
    eventVersion: '1.08',
    userIdentity: userIdentity(r),
    eventTime: r.time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    eventSource: 'kms.amazonaws.com',
    eventName: r.operation,
    awsRegion: r.region,
    sourceIPAddress: r.sourceIp,
    userAgent: `${SIMULATED_USER_AGENT} (${r.clientUserAgent.slice(0, 200)})`,
    ...(r.error === undefined ? {} : { errorCode: r.error.type, errorMessage: r.error.message.slice(0, 1000) }),
    requestParameters: requestParameters(r.input),
    responseElements: null,
    ...(r.recipient === undefined ? {} : { additionalEventData: { recipient: recipientData(r.recipient) } }),
    requestID: r.requestId,
    eventID: randomUUID(),
    readOnly: true,
    resources: arn === undefined ? [] : [{ accountId: r.accountId, type: 'AWS::KMS::Key', ARN: arn }],
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: r.accountId,
    eventCategory: 'Management',
  };
}

/** Writes each event as its own delivery file (atomic rename: a reader never sees half a file). */
export class CloudTrailWriter {
  readonly dir: string;
  #seq = 0;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
  }

  write(r: KmsCallRecord): void {
    const stamp = r.time.toISOString().replace(/[-:]/g, '').slice(0, 13);
    const name = `${r.accountId}_CloudTrail_${r.region}_${stamp}Z_${String(++this.#seq).padStart(6, '0')}${r.requestId.slice(0, 8)}.json.gz`;
    const body = gzipSync(JSON.stringify({ Records: [cloudTrailEvent(r)] }));
    const tmp = join(this.dir, `.${name}.tmp`);
    writeFileSync(tmp, body);
    renameSync(tmp, join(this.dir, name));
  }
}
