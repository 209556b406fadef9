// The enclave's cache of issuer key sets. Keys come ONLY from here: from the JWKS URL the
// trust policy names, fetched through the injected fetcher (the tunnel with TLS ending in
// the enclave and the policy's CA bundle) — never from a token's jku/x5u/jwk headers.
//  - Hard maximum age (issuer.jwksMaxAgeSeconds): an expired set is never used, so a key the
//    issuer removed stops working within that age.
//  - Never stale on error: when a refetch fails the expired set is dropped (JWKS_UNAVAILABLE).
//  - Unknown kid (the issuer rotated): one refetch, at most once per 30 s per issuer, so a
//    stream of made-up kids cannot turn the enclave into a request amplifier.
import type { webcrypto } from 'node:crypto';
import type { TokenAlgorithm, TrustedIssuer } from '../../verifier/trust-policy.ts';
import { AuthzError, authzFail } from './errors.ts';
import { importVerificationKey, keyFits, parseJwks, type PublicJwk } from './jwks.ts';

/** Fetch `url` over HTTPS trusting only `caBundlePem`; resolves to the body bytes (≤ 64 KiB is checked here too). */
/** A public key ready for WebCrypto verify (what jose's importJWK returns). */
export type VerificationKey = webcrypto.CryptoKey;

export type JwksFetcher = (url: string, caBundlePem: string) => Promise<Uint8Array>;

/** Where token verification gets keys. `issuerId` is a trust-policy issuers[].id. */
export interface JwksSource {
  getKey(issuerId: string, kid: string | undefined, alg: string): Promise<VerificationKey>;
}

export interface JwksCacheOptions {
  issuers: readonly TrustedIssuer[];
  fetch: JwksFetcher;
  /** Trusted enclave clock, milliseconds. */
  now(): number;
  /** Minimum spacing of unknown-kid refetches per issuer (default 30 000 ms). */
  unknownKidRefetchMs?: number;
}

interface Entry {
  fetchedAt: number;
  keys: PublicJwk[];
  imported: Map<string, Promise<VerificationKey>>;
}

export const UNKNOWN_KID_REFETCH_MS = 30_000;

export class JwksCache implements JwksSource {
  readonly #issuers: Map<string, TrustedIssuer>;
  readonly #fetch: JwksFetcher;
  readonly #now: () => number;
  readonly #refetchMs: number;
  readonly #entries = new Map<string, Entry>();
  readonly #lastFetch = new Map<string, number>();
  readonly #pending = new Map<string, Promise<Entry>>();

  constructor(opts: JwksCacheOptions) {
    this.#issuers = new Map(opts.issuers.map((i) => [i.id, i]));
    this.#fetch = opts.fetch;
    this.#now = opts.now;
    this.#refetchMs = opts.unknownKidRefetchMs ?? UNKNOWN_KID_REFETCH_MS;
  }

  async getKey(issuerId: string, kid: string | undefined, alg: string): Promise<VerificationKey> {
    const issuer = this.#issuers.get(issuerId);
    if (issuer === undefined) authzFail('OIDC_ISSUER_UNTRUSTED', `issuer "${issuerId.slice(0, 64)}" is not in the trust policy`);
    if (!(issuer.algorithms as string[]).includes(alg)) authzFail('OIDC_INVALID', `token algorithm "${alg.slice(0, 16)}" is not allowed for issuer "${issuerId}"`);
    if (typeof kid !== 'string' || kid.length === 0 || kid.length > 256) authzFail('OIDC_INVALID', 'token header has no usable "kid"');
    const a = alg as TokenAlgorithm;
    let entry = await this.#fresh(issuer);
    let key = entry.keys.find((k) => k.kid === kid);
    if (key === undefined) {
      // Rate-limit the refetches unknown kids cause (not ordinary fetches): the first token
      // signed with a newly rotated key is accepted at once; a stream of made-up kids costs
      // the issuer at most one fetch per interval.
      const last = this.#lastFetch.get(issuer.id) ?? -Infinity;
      if (this.#now() - last < this.#refetchMs) authzFail('OIDC_INVALID', `unknown kid "${kid.slice(0, 64)}" for issuer "${issuer.id}" (an unknown kid already caused a refetch less than ${this.#refetchMs / 1000} s ago)`);
      this.#lastFetch.set(issuer.id, this.#now());
      entry = await this.#refetch(issuer);
      key = entry.keys.find((k) => k.kid === kid);
      if (key === undefined) authzFail('OIDC_INVALID', `unknown kid "${kid.slice(0, 64)}" for issuer "${issuer.id}"`);
    }
    if (!keyFits(key, a)) authzFail('OIDC_INVALID', `key "${kid.slice(0, 64)}" is not a ${a} key`);
    const id = `${key.kid}\u0000${a}`;
    let imported = entry.imported.get(id);
    if (imported === undefined) {
      imported = importVerificationKey(key, a);
      entry.imported.set(id, imported);
      imported.catch(() => entry.imported.delete(id));
    }
    return imported;
  }

  /** The cached set if younger than the maximum age, otherwise a new one (or JWKS_UNAVAILABLE). */
  async #fresh(issuer: TrustedIssuer): Promise<Entry> {
    const e = this.#entries.get(issuer.id);
    const now = this.#now();
    // A clock that went backwards also invalidates: the age is unknowable then.
    if (e !== undefined && now >= e.fetchedAt && now - e.fetchedAt < issuer.jwksMaxAgeSeconds * 1000) return e;
    this.#entries.delete(issuer.id); // never served again, whatever the fetch does
    return this.#refetch(issuer);
  }

  /** One fetch per issuer at a time; concurrent callers share it. */
  #refetch(issuer: TrustedIssuer): Promise<Entry> {
    const pending = this.#pending.get(issuer.id);
    if (pending !== undefined) return pending;
    const p = this.#load(issuer).finally(() => this.#pending.delete(issuer.id));
    this.#pending.set(issuer.id, p);
    return p;
  }

  async #load(issuer: TrustedIssuer): Promise<Entry> {
    const startedAt = this.#now();
    let body: Uint8Array;
    try {
      body = await this.#fetch(issuer.jwksUrl, issuer.caBundlePem);
    } catch (e) {
      if (e instanceof AuthzError && e.code === 'JWKS_UNAVAILABLE') throw e;
      throw new AuthzError('JWKS_UNAVAILABLE', `JWKS of issuer "${issuer.id}" could not be fetched: ${(e as Error).message.slice(0, 200)}`, { cause: e });
    }
    const entry: Entry = { fetchedAt: startedAt, keys: parseJwks(body), imported: new Map() };
    this.#entries.set(issuer.id, entry);
    return entry;
  }
}
