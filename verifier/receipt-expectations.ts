// What a caller expected of a receipt that verified: the repository, ref and commit an
// auditor names (`verify receipt --repository --ref --commit`), and everything the CI
// client asked for (identity, environment, commit, every pack option) — a host that
// stripped the signing key or shortened the expiry is caught here.
import { fail } from './errors.ts';
import type { ReceiptPackOptions, ReceiptPredicate } from './statement.ts';

export interface ReceiptExpectations {
  /** Repository name (`owner/name`) or GitHub repository id (digits). */
  repository?: string;
  ref?: string;
  commit?: string;
  identity?: string;
  environment?: string;
  options?: ReceiptPackOptions;
}

function mismatch(what: string, expected: unknown, actual: unknown): never {
  fail('EXPECTATION_MISMATCH', `${what}: expected ${JSON.stringify(expected)}, the receipt says ${JSON.stringify(actual)}`, { field: what });
}

/** Throws EXPECTATION_MISMATCH naming the first field that differs. */
export function checkReceiptExpectations(p: ReceiptPredicate, e: ReceiptExpectations): void {
  const a = p.authorization;
  if (e.repository !== undefined) {
    const byId = /^[0-9]+$/.test(e.repository);
    const actual = byId ? a.repositoryId : a.repository;
    if (actual !== e.repository) mismatch(byId ? 'repositoryId' : 'repository', e.repository, actual);
  }
  if (e.ref !== undefined && a.ref !== e.ref) mismatch('ref', e.ref, a.ref);
  if (e.commit !== undefined && p.source.commit !== e.commit.toLowerCase()) mismatch('commit', e.commit, p.source.commit);
  if (e.identity !== undefined && p.pack.identity !== e.identity) mismatch('identity', e.identity, p.pack.identity);
  if (e.environment !== undefined && p.pack.environment !== e.environment) mismatch('environment', e.environment, p.pack.environment);
  if (e.options !== undefined) {
    for (const k of ['signingKeyArn', 'ttlSeconds', 'bindEncryptionContext'] as const) {
      if (p.pack.options[k] !== e.options[k]) mismatch(`options.${k}`, e.options[k], p.pack.options[k]);
    }
  }
}

/**
 * A DEVELOPMENT trust policy trusts simulated issuers; run-enclave refuses it on Nitro
 * hardware, so a receipt claiming both can only come from a bypassed deployment.
 */
export function checkDevelopmentPolicy(development: boolean, trustKind: 'aws' | 'simulated' | 'custom'): void {
  if (development && trustKind === 'aws') {
    fail('DEVELOPMENT_POLICY', 'the receipt was made under a DEVELOPMENT trust policy, yet its document chains to the AWS Nitro root');
  }
}
