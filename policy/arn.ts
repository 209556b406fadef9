// Principal ARNs accepted in generated policies. KMS rejects a key policy whose principal
// does not exist, but only at PutKeyPolicy time; catching typos here gives a clear error
// before anything is deployed.
import { policyFail } from './errors.ts';

const PARTITION = 'aws(?:-cn|-us-gov|-iso|-iso-b|-iso-e|-iso-f|-eusc)?';
const NAME = "[\\w+=,.@-]{1,128}";
const PATH = `(?:/[\\w+=,.@-]+)*/`;
const ROLE_ARN = new RegExp(`^arn:${PARTITION}:iam::\\d{12}:role${PATH}${NAME}$`);
const USER_ARN = new RegExp(`^arn:${PARTITION}:iam::\\d{12}:user${PATH}${NAME}$`);
const ROOT_ARN = new RegExp(`^arn:${PARTITION}:iam::\\d{12}:root$`);

/** An IAM role ARN (the enclave's parent-instance role, the PCR3 role). */
export function requireRoleArn(arn: string, what: string): string {
  if (!ROLE_ARN.test(arn)) {
    policyFail('INVALID_ARN', `${what} must be an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>), got "${arn}"`);
  }
  return arn;
}

/**
 * A principal for an Allow statement: an IAM role, user or account root ARN. STS
 * assumed-role session ARNs are refused: they name one session, not a stable identity.
 */
export function requirePrincipalArn(arn: string, what: string): string {
  if (ROLE_ARN.test(arn) || USER_ARN.test(arn) || ROOT_ARN.test(arn)) return arn;
  if (/^arn:[^:]+:sts::/.test(arn)) {
    policyFail('INVALID_ARN', `${what} "${arn}" is an STS session ARN; use the IAM role ARN it was assumed from`);
  }
  policyFail('INVALID_ARN', `${what} must be an IAM role, user or account-root ARN, got "${arn}"`);
}
