// Reading an artifact as a runtime should — fail closed where Clef's poller does not:
// hash and signature checked on every read, identity/environment bound to what the
// caller expects, expiry re-checked each time, revoked artifacts refused, rollback to an
// older revision refused, 12-byte IV and 16-byte tag pinned. Plaintext is returned only
// after every check has passed.
import type { KeyObject } from 'node:crypto';
import { Decrypter } from 'age-encryption';
import { ciphertextHash, parseArtifactJson, parseRevision, type PackedArtifact } from './artifact.ts';
import { artifactEncryptionContext, openWithDek, type KmsDecryptDekFn } from './envelope.ts';
import { ClefError } from './errors.ts';
import { parseStrictJson } from '../../verifier/strict-json.ts';
import type { SecretValues } from './pack.ts';
import { clefSignaturePayload, parseVerifyKey, verifyArtifactSignature } from './signature.ts';
import { timingSafeEqual } from 'node:crypto';
import { decryptAgeNative, nativeIdentity } from '../sops/age-native.ts';

export interface ReadArtifactOptions {
  /** The identity and environment this runtime serves; a different artifact is refused. */
  expect?: { identity: string; environment: string };
  /** Public key (base64 DER SPKI, PEM or KeyObject). Required unless allowUnsigned. */
  verifyKey?: string | KeyObject;
  /** Accept unsigned artifacts (Clef's default). Off unless the caller says so. */
  allowUnsigned?: boolean;
  /** Age identities for age artifacts. */
  ageIdentities?: readonly string[];
  /** KMS Decrypt for envelope artifacts. */
  kmsDecrypt?: KmsDecryptDekFn;
  /** Pass the identity/environment encryption context to Decrypt (opt-in pack option). */
  bindEncryptionContext?: boolean;
  /** Clock in epoch ms. */
  now?: () => number;
  /** Refuse revisions older than this one (`<epoch-ms>-<hex>`). */
  minRevision?: string;
  /** Remembers the newest revision read and refuses older ones afterwards. */
  revisions?: RevisionTracker;
}

export interface OpenedArtifact {
  artifact: PackedArtifact;
  values: SecretValues;
  keys: string[];
  revision: string;
}

/** In-memory rollback guard; persist `latest` yourself if it must survive restarts. */
export class RevisionTracker {
  latest: string | undefined;

  constructor(latest?: string) {
    this.latest = latest;
  }

  check(revision: string): void {
    if (this.latest !== undefined) assertNotOlder(revision, this.latest);
  }

  record(revision: string): void {
    if (this.latest === undefined || compareRevisions(revision, this.latest) > 0) this.latest = revision;
  }
}

/** Order by epoch-ms, then by suffix; throws ARTIFACT_MALFORMED for a non-Clef revision. */
export function compareRevisions(a: string, b: string): number {
  const x = parseRevision(a);
  const y = parseRevision(b);
  if (x === undefined || y === undefined) throw new ClefError('ARTIFACT_MALFORMED', `revision '${x === undefined ? a : b}' is not <epoch-ms>-<8 hex>`);
  if (x.ms !== y.ms) return x.ms - y.ms;
  return x.suffix === y.suffix ? 0 : x.suffix < y.suffix ? -1 : 1;
}

function assertNotOlder(revision: string, floor: string): void {
  const x = parseRevision(revision);
  const y = parseRevision(floor);
  if (x === undefined) throw new ClefError('ARTIFACT_MALFORMED', `revision '${revision}' is not <epoch-ms>-<8 hex>`);
  if (y === undefined) throw new ClefError('ARTIFACT_MALFORMED', `minimum revision '${floor}' is not <epoch-ms>-<8 hex>`);
  // A different artifact packed in the same millisecond cannot be ordered: refuse it too.
  if (x.ms < y.ms || (x.ms === y.ms && x.suffix !== y.suffix)) {
    throw new ClefError('ARTIFACT_ROLLBACK', `revision ${revision} is older than ${floor}, which was already seen`);
  }
}

function timeOf(s: string, field: string): number {
  const t = Date.parse(s);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(s) || Number.isNaN(t)) throw new ClefError('ARTIFACT_MALFORMED', `'${field}' is not an ISO-8601 time`);
  return t;
}

function hashEquals(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

function strictB64(s: string, field: string): Buffer {
  const b = Buffer.from(s, 'base64');
  if (b.toString('base64') !== s) throw new ClefError('ARTIFACT_MALFORMED', `'${field}' is not canonical base64`);
  return b;
}

/** All checks that need no key material, in order. Returns the packed artifact. */
export function verifyArtifact(json: string | Uint8Array, opts: ReadArtifactOptions): PackedArtifact {
  const parsed = parseArtifactJson(json);
  const a = parsed.artifact;
  if (opts.expect !== undefined && (a.identity !== opts.expect.identity || a.environment !== opts.expect.environment)) {
    throw new ClefError('ARTIFACT_IDENTITY_MISMATCH', `artifact is for ${a.identity}/${a.environment}, expected ${opts.expect.identity}/${opts.expect.environment}`);
  }
  if (parsed.kind === 'revoked' || (parsed.artifact.revokedAt !== undefined && parsed.artifact.revokedAt !== '')) {
    throw new ClefError('ARTIFACT_REVOKED', `artifact revoked: ${a.identity}/${a.environment} at ${a.revokedAt ?? ''}`);
  }
  const art = parsed.artifact;
  const now = (opts.now ?? Date.now)();
  if (art.expiresAt !== undefined && now > timeOf(art.expiresAt, 'expiresAt')) {
    throw new ClefError('ARTIFACT_EXPIRED', `artifact expired at ${art.expiresAt}`);
  }
  timeOf(art.packedAt, 'packedAt');
  if (!hashEquals(ciphertextHash(art.ciphertext), art.ciphertextHash)) {
    throw new ClefError('ARTIFACT_HASH_MISMATCH', `ciphertextHash ${art.ciphertextHash} does not match the ciphertext`);
  }
  if (opts.verifyKey !== undefined) {
    if (art.signature === undefined || art.signature === '') {
      throw new ClefError('ARTIFACT_SIGNATURE_MISSING', 'artifact is unsigned but a verify key is configured');
    }
    let ok: boolean;
    try {
      ok = verifyArtifactSignature(clefSignaturePayload(art), art.signature, parseVerifyKey(opts.verifyKey));
    } catch (e) {
      throw new ClefError('ARTIFACT_SIGNATURE_INVALID', `signature cannot be checked: ${(e as Error).message}`);
    }
    if (!ok) throw new ClefError('ARTIFACT_SIGNATURE_INVALID', 'signature does not match the verify key (tampered artifact or a different signer)');
  } else if (opts.allowUnsigned !== true) {
    throw new ClefError('ARTIFACT_SIGNATURE_MISSING', 'no verify key given; pass one, or allow unsigned artifacts explicitly');
  }
  if (opts.minRevision !== undefined) assertNotOlder(art.revision, opts.minRevision);
  opts.revisions?.check(art.revision);
  if (art.envelope !== undefined) {
    strictB64(art.envelope.iv, 'envelope.iv');
    strictB64(art.envelope.authTag, 'envelope.authTag');
  }
  return art;
}

function parsePlaintext(plain: string): SecretValues {
  let x: unknown;
  try {
    x = parseStrictJson(plain);
  } catch (e) {
    throw new ClefError('ARTIFACT_DECRYPT_FAILED', `decrypted payload is not strict JSON: ${(e as Error).message}`);
  }
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new ClefError('ARTIFACT_DECRYPT_FAILED', 'decrypted payload is not a JSON object');
  const out: SecretValues = {};
  for (const [ns, bucket] of Object.entries(x)) {
    if (typeof bucket !== 'object' || bucket === null || Array.isArray(bucket) || Object.values(bucket).some((v) => typeof v !== 'string')) {
      throw new ClefError('ARTIFACT_DECRYPT_FAILED', `decrypted namespace '${ns}' is not a map of strings`);
    }
    // Plain objects for callers (the strict reader returns null-prototype ones).
    Object.defineProperty(out, ns, { value: { ...(bucket as Record<string, string>) }, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Verify everything, then decrypt. Nothing is returned unless every check passed. */
export async function readArtifact(json: string | Uint8Array, opts: ReadArtifactOptions): Promise<OpenedArtifact> {
  const art = verifyArtifact(json, opts);
  let plainBuf: Buffer;
  if (art.envelope !== undefined) {
    const env = art.envelope;
    if (opts.kmsDecrypt === undefined) throw new ClefError('ARTIFACT_KEY_UNAVAILABLE', `artifact uses a ${env.provider} KMS envelope but no KMS access was configured`);
    let dek: Uint8Array;
    try {
      dek = await opts.kmsDecrypt({
        keyId: env.keyId,
        ciphertextBlob: strictB64(env.wrappedKey, 'envelope.wrappedKey'),
        encryptionAlgorithm: env.algorithm,
        ...(opts.bindEncryptionContext === true ? { encryptionContext: artifactEncryptionContext(art.identity, art.environment) } : {}),
      });
    } catch (e) {
      if (e instanceof ClefError) throw e;
      throw new ClefError('ARTIFACT_KEY_UNAVAILABLE', `KMS could not unwrap the data key: ${(e as Error).message}`);
    }
    try {
      plainBuf = openWithDek(dek, strictB64(env.iv, 'envelope.iv'), strictB64(env.authTag, 'envelope.authTag'), strictB64(art.ciphertext, 'ciphertext'));
    } catch (e) {
      if (e instanceof ClefError) throw e;
      throw new ClefError('ARTIFACT_DECRYPT_FAILED', `AES-GCM open failed: ${(e as Error).message}`);
    } finally {
      dek.fill(0);
    }
  } else {
    const ids = (opts.ageIdentities ?? []).filter((s) => s.trim() !== '');
    if (ids.length === 0) throw new ClefError('ARTIFACT_KEY_UNAVAILABLE', 'artifact is age-encrypted but no age identity was supplied');
    const file = strictB64(art.ciphertext, 'ciphertext');
    try {
      // node:crypto X25519 first (fast); the age library for anything else.
      const native = ids.map(nativeIdentity);
      const r = decryptAgeNative(file, native.filter((x) => x !== undefined));
      if (r.kind === 'plaintext') plainBuf = r.plaintext;
      else {
        const d = new Decrypter();
        for (const id of ids) d.addIdentity(id.trim());
        plainBuf = Buffer.from(await d.decrypt(file));
      }
    } catch (e) {
      if (e instanceof ClefError) throw e;
      const msg = (e as Error).message;
      throw new ClefError(/no identity matched/i.test(msg) ? 'ARTIFACT_KEY_UNAVAILABLE' : 'ARTIFACT_DECRYPT_FAILED', `age decryption failed: ${msg}`);
    }
  }
  let values: SecretValues;
  try {
    values = parsePlaintext(plainBuf.toString('utf8'));
  } finally {
    plainBuf.fill(0);
  }
  opts.revisions?.record(art.revision);
  const keys = Object.entries(values).flatMap(([ns, bucket]) => Object.keys(bucket).map((k) => `${ns}__${k}`));
  return { artifact: art, values, keys, revision: art.revision };
}
