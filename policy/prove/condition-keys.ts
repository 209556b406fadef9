// Which condition keys lint knows, and where a request's value for each comes from:
// the attestation document (Recipient), the calling principal, or the caller's choice
// (adversarial: lint tries every value class). A key lint does not know is refused
// (CANNOT_LINT) rather than guessed: a typo in a Deny's key would silently switch it off.
import { policyFail } from '../errors.ts';

export type KeySource = 'attestation' | 'principal' | 'adversarial';

const PRINCIPAL_KEYS = new Set(['aws:principalarn', 'aws:principalaccount', 'kms:calleraccount', 'aws:principaltype', 'aws:username', 'aws:principalisawsservice', 'aws:principalservicename']);

/** Keys whose value a request can choose or that lint cannot know (key settings, tags, network, time). */
const ADVERSARIAL_KEYS = new Set([
  // AWS global condition keys (IAM "AWS global condition context keys")
  'aws:sourceip', 'aws:securetransport', 'aws:currenttime', 'aws:epochtime', 'aws:requestedregion', 'aws:sourcevpc',
  'aws:sourcevpce', 'aws:vpcsourceip', 'aws:useragent', 'aws:referer', 'aws:multifactorauthpresent', 'aws:multifactorauthage',
  'aws:tokenissuetime', 'aws:principalorgid', 'aws:principalorgpaths', 'aws:tagkeys', 'aws:calledvia', 'aws:calledviafirst',
  'aws:calledvialast', 'aws:viaawsservice', 'aws:sourcearn', 'aws:sourceaccount', 'aws:sourceorgid', 'aws:sourceorgpaths',
  'aws:principalservicenameslist', 'aws:userid', 'aws:federatedprovider', 'aws:sourceidentity', 'aws:resourceaccount',
  'aws:resourceorgid', 'aws:resourceorgpaths', 'aws:ec2instancesourcevpc', 'aws:ec2instancesourceprivateipv4',
  'aws:sourcevpcarn', 'aws:rolesessionname', 'aws:assumedroot', 'aws:ispublic', 'ec2:sourceinstancearn',
  // AWS KMS condition keys (KMS developer guide, "AWS KMS condition keys")
  'kms:bypasspolicylockoutsafetycheck', 'kms:customerMasterKeySpec', 'kms:customermasterkeyusage', 'kms:datakeypairspec',
  'kms:encryptionalgorithm', 'kms:encryptioncontextkeys', 'kms:expirationmodel', 'kms:grantconstrainttype',
  'kms:grantisforawsresource', 'kms:grantoperations', 'kms:granteeprincipal', 'kms:keyagreementalgorithm', 'kms:keyorigin',
  'kms:keyspec', 'kms:keyusage', 'kms:macalgorithm', 'kms:messagetype', 'kms:multiregion', 'kms:multiregionkeytype',
  'kms:primaryregion', 'kms:reencryptonsamekey', 'kms:replicaregion', 'kms:requestalias', 'kms:resourcealiases',
  'kms:retiringprincipal', 'kms:rotationperiodindays', 'kms:schedulekeydeletionpendingwindowindays', 'kms:signingalgorithm',
  'kms:validto', 'kms:viaservice', 'kms:wrappingalgorithm', 'kms:wrappingkeyspec', 'kms:keymanager',
].map((k) => k.toLowerCase()));

const ADVERSARIAL_PREFIXES = ['kms:encryptioncontext:', 'aws:principaltag/', 'aws:requesttag/', 'aws:resourcetag/'];

/** Keys that are lists in the request (IAM "multivalued context keys"). */
export const MULTI_VALUED_KEYS = new Set(['kms:encryptioncontextkeys', 'aws:tagkeys', 'aws:calledvia', 'aws:principalorgpaths', 'aws:principalservicenameslist', 'kms:grantoperations', 'kms:resourcealiases', 'aws:sourceorgpaths', 'aws:resourceorgpaths']);

/** Where a request's value for `key` comes from; CANNOT_LINT for a key lint does not know. */
export function keySource(key: string): KeySource {
  const k = key.toLowerCase();
  if (k.startsWith('kms:recipientattestation:')) return 'attestation';
  if (PRINCIPAL_KEYS.has(k)) return 'principal';
  if (ADVERSARIAL_KEYS.has(k) || ADVERSARIAL_PREFIXES.some((p) => k.startsWith(p) && k.length > p.length)) return 'adversarial';
  return policyFail('CANNOT_LINT', `condition key "${key}" is not an AWS global or AWS KMS condition key lint knows; it cannot judge a condition on it`);
}
