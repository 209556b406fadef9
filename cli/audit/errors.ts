// The audit's refusals: one error class, a closed set of stable codes (docs/errors.md).
// Malformed evidence is never skipped: an auditor must not get a clean report from a log
// the tool did not understand.
export type AuditErrorCode =
  | 'AUDIT_INPUT_TOO_LARGE'
  | 'AUDIT_INPUT_UNREADABLE'
  | 'AUDIT_CLOUDTRAIL_MALFORMED'
  | 'AUDIT_EVENT_CONFLICT'
  | 'AUDIT_RECEIPT_STORE_MALFORMED';

export class AuditError extends Error {
  readonly code: AuditErrorCode;

  constructor(code: AuditErrorCode, message: string) {
    super(message);
    this.name = 'AuditError';
    this.code = code;
  }
}

export function auditFail(code: AuditErrorCode, message: string): never {
  throw new AuditError(code, message);
}
