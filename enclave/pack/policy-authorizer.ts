// The production PackAuthorizer: the trust policy measured into the image, issuer keys from
// the JWKS cache (fetched through the enclave's own TLS), time from the enclave's checked
// clock cross-checked against a fresh NSM document — never from the host. Every refusal
// becomes PACK_REFUSED with the authz code as its detail, so the host and CI see a stable
// reason but nothing the host could have decided.
import { authorizePack, isAuthzError, JwksCache, type JwksFetcher, type PackProof as AuthzProof, type VerifySshCommitSignature } from '../authz/index.ts';
import { AuthzEdgeError } from '../authz/edge-error.ts';
import { createTrustedClock, type TrustedClock } from '../authz/clock.ts';
import { createTunnelJwksFetcher } from '../authz/jwks-fetch.ts';
import type { Nsm } from '../nsm/nsm.ts';
import { parseAuthorizedKeyLine, sshFingerprint, splitSignedCommit, verifySshCommitSignature } from '../authz/sshsig.ts';
import { parseCommitHeaders } from '../git/commit.ts';
import type { GitObjectFormat } from '../protocol.ts';
import type { PackInput } from '../server.ts';
import { canonicalTrustPolicyBytes, parseTrustPolicy, trustPolicyDigest, type TrustPolicy } from '../../verifier/trust-policy.ts';
import { isVerificationError } from '../../verifier/errors.ts';
import type { PackAuthorizer } from './authorizer.ts';
import { refuse } from './options.ts';

export interface PolicyAuthorizerOptions {
  /** The image's canonical trust policy bytes (app/trust-policy.json), or null when it has none. */
  policyBytes: Uint8Array | null;
  /** HTTPS GET through the enclave's tunnel, trusting only the policy's CA bundle. */
  jwksFetch: JwksFetcher;
  clock: TrustedClock;
}

interface LoadedPolicy {
  policy: TrustPolicy;
  digest: string;
}

/** Parse the image's policy once, at start; a non-canonical or invalid file stops the service. */
export function loadTrustPolicy(bytes: Uint8Array): LoadedPolicy {
  const policy = parseTrustPolicy(bytes);
  const canonical = canonicalTrustPolicyBytes(policy);
  if (Buffer.compare(Buffer.from(canonical), Buffer.from(bytes)) !== 0) {
    throw new Error('the trust policy file is not in canonical form (attested-pack build writes it canonically)');
  }
  return { policy, digest: trustPolicyDigest(bytes) };
}

/** The sshsig verifier in the shape authorizePack takes: it reports which allowed key signed. */
function sshsigFor(format: GitObjectFormat): VerifySshCommitSignature {
  return (raw, _signature, allowed) => {
    const { fingerprint } = verifySshCommitSignature(raw, [...allowed], { objectFormat: format });
    const publicKey = allowed.find((k) => sshFingerprint(parseAuthorizedKeyLine(k)) === fingerprint);
    if (publicKey === undefined) throw new AuthzEdgeError('SSHSIG_INVALID', 'the signer is not among the allowed keys');
    return { publicKey, fingerprint };
  };
}

function proofOf(input: PackInput): AuthzProof {
  const p = input.proof;
  if (p === null) refuse('PACK_UNAUTHORIZED', 'the request carries no proof: CI must send an OIDC token for the request-bound audience (or sshsig)');
  if (p.kind === 'oidc') return { oidcToken: p.token };
  return { sshSignature: splitSignedCommit(input.tree.commitContent, input.objectFormat).signature };
}

function asRefusal(e: unknown): unknown {
  if (isAuthzError(e) || e instanceof AuthzEdgeError) return refusalOf(e.code, e.message);
  if (isVerificationError(e)) return refusalOf('PACK_UNAUTHORIZED', e.message);
  return e;
}

function refusalOf(code: string, message: string): Error {
  try {
    refuse(code, message);
  } catch (r) {
    return r as Error;
  }
}

export function createPolicyAuthorizer(opts: PolicyAuthorizerOptions): PackAuthorizer {
  const loaded = opts.policyBytes === null ? null : loadTrustPolicy(opts.policyBytes);
  const jwks = loaded === null ? null : new JwksCache({ issuers: loaded.policy.issuers, fetch: opts.jwksFetch, now: () => opts.clock.now() });
  return async (input, _ctx, options, freshDocument) => {
    try {
      if (loaded === null || jwks === null) refuse('TRUST_POLICY_MISSING', 'this image carries no pack trust policy; no pack can be authorized');
      const proof = proofOf(input);
      opts.clock.verifyAgainst(freshDocument);
      const committerTime = parseCommitHeaders(input.tree.commitContent, input.objectFormat).committer.time;
      const { allowedKmsKeyArns, ...receipt } = await authorizePack({
        policy: loaded.policy,
        policyDigest: loaded.digest,
        proof,
        request: { identity: input.identity, environment: input.environment, commit: input.commit, nonce: input.nonce, options },
        commit: { id: input.commit, objectFormat: input.objectFormat, raw: input.tree.commitContent, committerTime },
        readRepoFile: (path) => input.tree.readFile(path)?.content ?? null,
        jwks,
        now: () => opts.clock.now(),
        verifySshsig: sshsigFor(input.objectFormat),
      });
      return { receipt, allowedKmsKeyArns };
    } catch (e) {
      throw asRefusal(e);
    }
  };
}

/** An authorizer that refuses every pack (no NSM, no trustworthy clock…). */
export function refusingAuthorizer(code: string, message: string): PackAuthorizer {
  return async () => refuse(code, message);
}

export interface ImageAuthorizerOptions {
  /** The canonical trust policy bytes, or null when the image has none. */
  policyBytes: Uint8Array | null;
  nsm: Nsm;
  /** The enclave's outbound tunnel (the same one KMS uses). */
  tunnelSocket: string;
  /** sysfs reader for the clocksource check (hardware NSM only). */
  readFile: (path: string) => string;
}

/**
 * The authorizer the image (and `attested-pack enclave`) runs. A clock that cannot be
 * trusted does not stop the service — health and describe still answer — but every pack is
 * refused with CLOCK_UNTRUSTED.
 */
export function imageAuthorizer(opts: ImageAuthorizerOptions): PackAuthorizer {
  let clock: TrustedClock;
  try {
    clock = createTrustedClock({ nsm: opts.nsm, readFile: opts.readFile });
  } catch (e) {
    return refusingAuthorizer('CLOCK_UNTRUSTED', (e as Error).message);
  }
  return createPolicyAuthorizer({ policyBytes: opts.policyBytes, jwksFetch: createTunnelJwksFetcher({ tunnelSocket: opts.tunnelSocket }), clock });
}
