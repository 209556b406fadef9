// Entry point of the prover: parse with the model, refuse what it cannot judge, build the
// request classes, and search each property of the key for a counterexample.
import type { BuildManifest } from '../../verifier/build-manifest.ts';
import { policyFail } from '../errors.ts';
import { KMS_ACTIONS } from '../kms-actions.ts';
import { actionCovered, parseModelPolicy, type ModelPolicy } from '../model/index.ts';
import type { KeyKind } from '../types.ts';
import { attestationContexts } from './attestation-contexts.ts';
import { keySource } from './condition-keys.ts';
import { adversarialContexts, DEBUG_PCR, type AttestationContext } from './contexts.ts';
import { principalClasses } from './principals.ts';
import { propertiesFor, type NamedProperty } from './properties.ts';
import { findCounterexample, grantPossible, type Counterexample, type SearchSpace } from './search.ts';

export interface ProveOptions {
  kind: KeyKind;
  manifest?: BuildManifest;
  additionalManifests?: readonly BuildManifest[];
  enclaveRoleArn?: string;
}

export interface Violation {
  property: NamedProperty;
  counterexample: Counterexample;
}

const KEY_UUID = '1234abcd-12ab-34cd-56ef-1234567890ab';

/** Refuse actions that match no KMS action (a typo would silently narrow a Deny). */
function checkActions(policy: ModelPolicy): void {
  for (const st of policy.statements) {
    for (const a of st.actions) {
      if (!KMS_ACTIONS.some((k) => actionCovered([a], k))) policyFail('CANNOT_LINT', `Statement[${st.index}]: action "${a}" matches no AWS KMS action`);
    }
  }
}

/** The key ARNs to try: a generic key of the account, and each key ARN the policy names. */
function keyArns(policy: ModelPolicy, account: string): string[] {
  const out = new Set([`arn:aws:kms:us-east-1:${account}:key/${KEY_UUID}`]);
  for (const st of policy.statements) {
    for (const r of st.resources) if (/^arn:[^:]*:kms:[^:]*:[^:]*:key\//.test(r)) out.add(r.replace(/\*/g, 'lint').replace(/\?/g, 'x'));
  }
  return [...out];
}

function imagesOf(options: ProveOptions, policy: ModelPolicy): Array<Map<number, string>> {
  const manifests = options.manifest === undefined ? [] : [options.manifest, ...(options.additionalManifests ?? [])];
  if (manifests.length > 0) {
    return manifests.map((m) => new Map(Object.entries(m.pcrs).filter(([, v]) => typeof v === 'string').map(([i, v]) => [Number(i), (v as string).toLowerCase()])));
  }
  // Without a manifest: each image the policy names by PCR0 / ImageSha384 (never zeros).
  const values = new Set<string>();
  for (const st of policy.statements) {
    for (const c of st.conditions) if (/^kms:recipientattestation:(imagesha384|pcr0)$/i.test(c.key)) c.values.forEach((v) => values.add(v.toLowerCase()));
  }
  values.delete(DEBUG_PCR);
  return [...values].map((v) => new Map([[0, v]]));
}

export function provePolicy(raw: unknown, options: ProveOptions): Violation[] {
  const policy = parseModelPolicy(raw);
  checkActions(policy);
  for (const st of policy.statements) for (const c of st.conditions) keySource(c.key);
  const images = imagesOf(options, policy);
  const good = new Set(images.map((m) => m.get(0)).filter((v): v is string => v !== undefined && v !== DEBUG_PCR));
  const goodImage = (att: AttestationContext): boolean => att.pcrs !== null && good.has(att.pcrs.get(0) ?? '');
  const principals = principalClasses(policy, options.enclaveRoleArn);
  const account = /:(\d{12}):/.exec(options.enclaveRoleArn ?? '')?.[1] ?? policy.statements.flatMap((s) => s.principal.accounts)[0] ?? '111122223333';
  const space: SearchSpace = { policy, principals, resources: keyArns(policy, account), attestation: attestationContexts(policy, images), adversarial: adversarialContexts(policy) };
  const grant = grantPossible(space);
  const out: Violation[] = [];
  for (const property of propertiesFor(options.kind, options.enclaveRoleArn, goodImage)) {
    const counterexample = findCounterexample(space, property, grant);
    if (counterexample !== null) out.push({ property, counterexample });
  }
  return out;
}
