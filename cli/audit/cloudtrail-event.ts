// One CloudTrail event, strictly read into what the audit needs. Shapes from the AWS KMS
// developer guide ("Monitoring requests for Nitro enclaves", test/fixtures/cloudtrail/README.md):
// KMS events carry `requestID`, `resources[].ARN` and, for Recipient calls,
// `additionalEventData.recipient` with the attestation document's module id, image digest
// (PCR0) and PCR1/2/3/4/8. The guide prints PCRs as hex; events seen in the field carry
// base64 — both are read, anything else is refused. Events of other services are counted
// and otherwise left alone (a trail delivers every service's events).
import { auditFail } from './errors.ts';

export interface AttestedRecipientInfo {
  moduleId: string;
  /** PCR index → lowercase hex (48 bytes). */
  pcrs: Map<number, string>;
}

export interface KmsTrailEvent {
  eventId: string;
  requestId: string;
  eventName: string;
  /** ms since epoch. */
  time: number;
  region: string;
  /** resources[].ARN of type AWS::KMS::Key, else requestParameters.keyId, else null. */
  keyArn: string | null;
  errorCode: string | null;
  recipient: AttestedRecipientInfo | null;
  userAgent: string;
  callerArn: string | null;
  /** Where it was read from (file name and index), for the report. */
  source: string;
}

const RECIPIENT_FIELDS: Record<string, number | 'module'> = {
  attestationDocumentModuleId: 'module',
  attestationDocumentEnclaveImageDigest: 0,
  attestationDocumentEnclavePCR1: 1,
  attestationDocumentEnclavePCR2: 2,
  attestationDocumentEnclavePCR3: 3,
  attestationDocumentEnclavePCR4: 4,
  attestationDocumentEnclavePCR8: 8,
};
const HEX96 = /^[0-9a-fA-F]{96}$/;
const B64_48 = /^[A-Za-z0-9+/]{64}$/;
const EVENT_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;
const ID = /^[A-Za-z0-9-]{1,128}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(o: Record<string, unknown>, name: string, where: string, max = 2048): string {
  const v = o[name];
  if (typeof v !== 'string' || v.length === 0 || v.length > max) auditFail('AUDIT_CLOUDTRAIL_MALFORMED', `${where}: ${name} must be a string of 1 to ${max} characters`);
  return v;
}

function pcrHex(v: unknown, where: string): string {
  if (typeof v === 'string' && HEX96.test(v)) return v.toLowerCase();
  if (typeof v === 'string' && B64_48.test(v)) {
    const bytes = Buffer.from(v, 'base64');
    if (bytes.length === 48 && bytes.toString('base64') === v) return bytes.toString('hex');
  }
  return auditFail('AUDIT_CLOUDTRAIL_MALFORMED', `${where} must be 48 bytes as hex or base64`);
}

function readRecipient(v: unknown, where: string): AttestedRecipientInfo {
  if (!isRecord(v)) auditFail('AUDIT_CLOUDTRAIL_MALFORMED', `${where}.additionalEventData.recipient must be an object`);
  let moduleId: string | undefined;
  const pcrs = new Map<number, string>();
  for (const [k, value] of Object.entries(v)) {
    const field = RECIPIENT_FIELDS[k];
    const w = `${where}.additionalEventData.recipient.${k}`;
    if (field === undefined) auditFail('AUDIT_CLOUDTRAIL_MALFORMED', `${w} is not a field this audit knows (refused rather than ignored)`);
    if (field === 'module') {
      if (typeof value !== 'string' || !ID.test(value)) auditFail('AUDIT_CLOUDTRAIL_MALFORMED', `${w} must be an enclave module id`);
      moduleId = value;
    } else pcrs.set(field, pcrHex(value, w));
  }
  if (moduleId === undefined || !pcrs.has(0)) auditFail('AUDIT_CLOUDTRAIL_MALFORMED', `${where}.additionalEventData.recipient lacks the module id or the image digest`);
  return { moduleId, pcrs };
}

function keyArnOf(e: Record<string, unknown>, where: string): string | null {
  const resources = e.resources;
  if (resources !== undefined && resources !== null) {
    if (!Array.isArray(resources) || resources.length > 16) auditFail('AUDIT_CLOUDTRAIL_MALFORMED', `${where}.resources must be an array of at most 16`);
    for (const r of resources) {
      if (!isRecord(r)) auditFail('AUDIT_CLOUDTRAIL_MALFORMED', `${where}.resources[] must be objects`);
      if (typeof r.ARN === 'string' && r.ARN.includes(':kms:') && r.ARN.includes(':key/')) return r.ARN;
    }
  }
  const params = e.requestParameters;
  if (isRecord(params) && typeof params.keyId === 'string') return params.keyId;
  return null;
}

/** Read one event; null when it is not a KMS event (counted by the caller, never matched). */
export function readTrailEvent(e: unknown, source: string): KmsTrailEvent | null {
  if (!isRecord(e)) auditFail('AUDIT_CLOUDTRAIL_MALFORMED', `${source}: an event must be a JSON object`);
  const eventSource = str(e, 'eventSource', source, 256);
  if (eventSource !== 'kms.amazonaws.com') return null;
  const eventTime = str(e, 'eventTime', source, 40);
  const time = Date.parse(eventTime);
  if (!EVENT_TIME.test(eventTime) || !Number.isFinite(time)) auditFail('AUDIT_CLOUDTRAIL_MALFORMED', `${source}: eventTime "${eventTime.slice(0, 40)}" is not an ISO-8601 UTC time`);
  const requestId = str(e, 'requestID', source, 128);
  if (!ID.test(requestId)) auditFail('AUDIT_CLOUDTRAIL_MALFORMED', `${source}: requestID has the wrong format`);
  const eventId = str(e, 'eventID', source, 128);
  const extra = e.additionalEventData;
  if (extra !== undefined && extra !== null && !isRecord(extra)) auditFail('AUDIT_CLOUDTRAIL_MALFORMED', `${source}: additionalEventData must be an object`);
  const recipient = isRecord(extra) && extra.recipient !== undefined ? readRecipient(extra.recipient, source) : null;
  const errorCode = e.errorCode === undefined || e.errorCode === null ? null : str(e, 'errorCode', source, 256);
  const identity = e.userIdentity;
  return {
    eventId,
    requestId,
    eventName: str(e, 'eventName', source, 128),
    time,
    region: str(e, 'awsRegion', source, 64),
    keyArn: keyArnOf(e, source),
    errorCode,
    recipient,
    userAgent: typeof e.userAgent === 'string' ? e.userAgent.slice(0, 512) : '',
    callerArn: isRecord(identity) && typeof identity.arn === 'string' ? identity.arn : null,
    source,
  };
}
