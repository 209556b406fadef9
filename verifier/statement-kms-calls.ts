// `predicate.kms.calls`: the KMS requests of one pack, named by KMS's own request id so an
// auditor can find each in CloudTrail (docs/receipt.md, docs/audit.md). Strict: a fixed
// operation set, key ARNs as KMS returns them (key/, never alias/), request ids as KMS
// writes them (lowercase UUID), no id twice.
import type { KmsCallOperation, ReceiptKms, ReceiptKmsCall } from './statement.ts';
import { array, bad, object, text } from './statement-fields.ts';

/** One Decrypt per SOPS file (≤ 1024 cells) plus the envelope Encrypt and the Sign, with room to spare. */
export const MAX_KMS_CALLS = 2048;
export const KMS_CALL_OPERATIONS: readonly KmsCallOperation[] = ['Decrypt', 'Encrypt', 'Sign', 'GenerateDataKey'];
/** KMS answers with the key's ARN even when the request named an alias. */
export const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key\/[A-Za-z0-9-]{1,128}$/;
/** x-amzn-RequestId of KMS: a lowercase UUID (CloudTrail's requestID carries the same). */
export const KMS_REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function parseKmsCalls(v: unknown): ReceiptKmsCall[] {
  const seen = new Set<string>();
  return array(v, 'predicate.kms.calls', MAX_KMS_CALLS).map((c, i): ReceiptKmsCall => {
    const w = `predicate.kms.calls[${i}]`;
    const o = object(c, ['operation', 'keyArn', 'requestId'], w);
    if (!KMS_CALL_OPERATIONS.includes(o.operation as KmsCallOperation)) bad(`${w}.operation`, `must be one of ${KMS_CALL_OPERATIONS.join(', ')}`);
    const requestId = text(o.requestId, `${w}.requestId`, 36, KMS_REQUEST_ID);
    if (seen.has(requestId)) bad(`${w}.requestId`, 'appears twice');
    seen.add(requestId);
    return { operation: o.operation as KmsCallOperation, keyArn: text(o.keyArn, `${w}.keyArn`, 2048, KMS_KEY_ARN), requestId };
  });
}

/** The calls and the keys the predicate names must tell the same story. */
export function checkCallsMatchKeys(kms: ReceiptKms): void {
  const has = (op: KmsCallOperation) => kms.calls.some((c) => c.operation === op);
  if (has('Decrypt') !== kms.sopsDecryptKeys.length > 0) bad('predicate.kms.calls', 'must have a Decrypt call exactly when sopsDecryptKeys is not empty');
  if (has('Encrypt') !== (kms.envelopeKey !== null)) bad('predicate.kms.calls', 'must have an Encrypt call exactly when envelopeKey is set');
  if (has('Sign') !== (kms.signingKey !== null)) bad('predicate.kms.calls', 'must have a Sign call exactly when signingKey is set');
}
