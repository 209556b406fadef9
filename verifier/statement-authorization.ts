// `predicate.authorization`: the caller proof the enclave verified before it read clef.yaml
// as authority (docs/pack-policy.md, docs/receipt.md). Every member is required; `null`
// marks a claim the proof method does not carry, never an omitted check.
import type { ReceiptAuthorization } from './statement.ts';
import { bad, boolean, HEX, integer, integerOrNull, object, text, textOrNull } from './statement-fields.ts';

const MEMBERS = [
  'method', 'development', 'trustPolicySha384', 'issuer', 'repository', 'repositoryId', 'repositoryOwnerId', 'ref', 'sha',
  'event', 'workflowRef', 'workflowSha', 'jobWorkflowRef', 'jobWorkflowSha', 'runId', 'runAttempt', 'actor',
  'deploymentEnvironment', 'runnerEnvironment', 'issuedAt', 'committerTime', 'signerFingerprint',
] as const;

const SHA384_HEX = /^[0-9a-f]{96}$/;
const DECIMAL_ID = /^[0-9]{1,20}$/;
const HTTPS_URL = /^https:\/\/[^\s]+$/;
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
/** Unix seconds up to the year 9999. */
const MAX_UNIX_SECONDS = 253_402_300_799;
const ANY_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

export function parseAuthorization(v: unknown, objectFormat: 'sha1' | 'sha256'): ReceiptAuthorization {
  const w = 'predicate.authorization';
  const o = object(v, MEMBERS, w);
  if (o.method !== 'oidc' && o.method !== 'sshsig') bad(`${w}.method`, 'must be "oidc" or "sshsig"');
  const a: ReceiptAuthorization = {
    method: o.method,
    development: boolean(o.development, `${w}.development`),
    trustPolicySha384: text(o.trustPolicySha384, `${w}.trustPolicySha384`, 96, SHA384_HEX),
    issuer: textOrNull(o.issuer, `${w}.issuer`, 1024, HTTPS_URL),
    repository: text(o.repository, `${w}.repository`, 1024),
    repositoryId: textOrNull(o.repositoryId, `${w}.repositoryId`, 20, DECIMAL_ID),
    repositoryOwnerId: textOrNull(o.repositoryOwnerId, `${w}.repositoryOwnerId`, 20, DECIMAL_ID),
    ref: textOrNull(o.ref, `${w}.ref`, 1024),
    sha: text(o.sha, `${w}.sha`, 64, HEX[objectFormat]),
    event: textOrNull(o.event, `${w}.event`, 64),
    workflowRef: textOrNull(o.workflowRef, `${w}.workflowRef`, 1024),
    workflowSha: textOrNull(o.workflowSha, `${w}.workflowSha`, 64, ANY_SHA),
    jobWorkflowRef: textOrNull(o.jobWorkflowRef, `${w}.jobWorkflowRef`, 1024),
    jobWorkflowSha: textOrNull(o.jobWorkflowSha, `${w}.jobWorkflowSha`, 64, ANY_SHA),
    runId: textOrNull(o.runId, `${w}.runId`, 20, DECIMAL_ID),
    runAttempt: integerOrNull(o.runAttempt, `${w}.runAttempt`, 1, 1_000_000),
    actor: textOrNull(o.actor, `${w}.actor`, 256),
    deploymentEnvironment: textOrNull(o.deploymentEnvironment, `${w}.deploymentEnvironment`, 256),
    runnerEnvironment: textOrNull(o.runnerEnvironment, `${w}.runnerEnvironment`, 64),
    issuedAt: integerOrNull(o.issuedAt, `${w}.issuedAt`, 0, MAX_UNIX_SECONDS),
    committerTime: integer(o.committerTime, `${w}.committerTime`, 0, MAX_UNIX_SECONDS),
    signerFingerprint: textOrNull(o.signerFingerprint, `${w}.signerFingerprint`, 50, FINGERPRINT),
  };
  if (a.method === 'oidc' && (a.issuer === null || a.issuedAt === null || a.signerFingerprint !== null)) {
    bad(w, 'of method "oidc" must name its issuer and issuedAt, and no signerFingerprint');
  }
  if (a.method === 'sshsig' && a.signerFingerprint === null) bad(w, 'of method "sshsig" must name its signerFingerprint');
  return a;
}
