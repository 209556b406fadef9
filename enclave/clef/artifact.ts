// Clef artifact v1 as `clef pack` writes it (packages/core/src/artifact/types.ts,
// packer.ts): the JSON shape, its key order and 2-space pretty printing, the
// ciphertextHash rule, and a strict shape check for reading.
import { createHash } from 'node:crypto';
import { ClefError } from './errors.ts';
import { parseStrictJson } from '../../verifier/strict-json.ts';

export interface KmsEnvelope {
  provider: string;
  keyId: string;
  wrappedKey: string;
  algorithm: string;
  iv: string;
  authTag: string;
}

export type SignatureAlgorithm = 'Ed25519' | 'ECDSA_SHA256';

export interface PackedArtifact {
  version: 1;
  identity: string;
  environment: string;
  packedAt: string;
  revision: string;
  ciphertextHash: string;
  ciphertext: string;
  envelope?: KmsEnvelope;
  expiresAt?: string;
  revokedAt?: string;
  signature?: string;
  signatureAlgorithm?: SignatureAlgorithm;
}

/** `clef revoke` replaces the artifact with this unsigned stub. */
export interface RevokedArtifact {
  version: 1;
  identity: string;
  environment: string;
  revokedAt: string;
}

/** SHA-256 hex of the base64 ciphertext *string* (not the decoded bytes), as Clef hashes it. */
export function ciphertextHash(ciphertextBase64: string): string {
  return createHash('sha256').update(ciphertextBase64, 'utf8').digest('hex');
}

/** Key order exactly as the packer builds the object before JSON.stringify(_, null, 2). */
export function serializeArtifact(a: PackedArtifact): string {
  const o: Record<string, unknown> = {
    version: a.version,
    identity: a.identity,
    environment: a.environment,
    packedAt: a.packedAt,
    revision: a.revision,
    ciphertextHash: a.ciphertextHash,
    ciphertext: a.ciphertext,
  };
  if (a.envelope !== undefined) {
    const e = a.envelope;
    o.envelope = { provider: e.provider, keyId: e.keyId, wrappedKey: e.wrappedKey, algorithm: e.algorithm, iv: e.iv, authTag: e.authTag };
  }
  if (a.expiresAt !== undefined) o.expiresAt = a.expiresAt;
  if (a.revokedAt !== undefined) o.revokedAt = a.revokedAt;
  if (a.signature !== undefined) o.signature = a.signature;
  if (a.signatureAlgorithm !== undefined) o.signatureAlgorithm = a.signatureAlgorithm;
  return JSON.stringify(o, null, 2);
}

const MAX_ARTIFACT_BYTES = 64 * 1024 * 1024;
const ENVELOPE_FIELDS = ['provider', 'keyId', 'wrappedKey', 'algorithm', 'iv', 'authTag'] as const;

function malformed(msg: string): never {
  throw new ClefError('ARTIFACT_MALFORMED', msg);
}

function optString(o: Record<string, unknown>, k: string): string | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') malformed(`invalid '${k}' (expected string)`);
  return v;
}

function reqString(o: Record<string, unknown>, k: string): string {
  const v = o[k];
  // Clef's runtime also insists these are non-empty (validateEnvelope).
  if (typeof v !== 'string' || v === '') malformed(`missing or invalid '${k}' (expected non-empty string)`);
  return v;
}

export type ParsedArtifactJson = { kind: 'revoked'; artifact: RevokedArtifact } | { kind: 'packed'; artifact: PackedArtifact };

/** Parse artifact JSON with Clef's shape rules (and non-empty fields). No crypto here. */
export function parseArtifactJson(text: string | Uint8Array): ParsedArtifactJson {
  const size = typeof text === 'string' ? Buffer.byteLength(text, 'utf8') : text.length;
  if (size > MAX_ARTIFACT_BYTES) malformed('artifact larger than 64 MiB');
  let x: unknown;
  try {
    // Strict on our reading side only (Clef's runtime reads what we write either way):
    // duplicate members, a BOM or invalid UTF-8 would let two readers see two artifacts.
    x = parseStrictJson(text);
  } catch (e) {
    return malformed(`artifact is not strict UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof x !== 'object' || x === null || Array.isArray(x)) malformed('expected a JSON object');
  const o = x as Record<string, unknown>;
  if (o.version !== 1) malformed(`unsupported version: ${String(o.version)}`);
  const identity = reqString(o, 'identity');
  const environment = reqString(o, 'environment');
  const revokedAt = optString(o, 'revokedAt');
  if (revokedAt !== undefined && revokedAt !== '' && o.ciphertext === undefined) {
    return { kind: 'revoked', artifact: { version: 1, identity, environment, revokedAt } };
  }
  const a: PackedArtifact = {
    version: 1,
    identity,
    environment,
    packedAt: reqString(o, 'packedAt'),
    revision: reqString(o, 'revision'),
    ciphertextHash: reqString(o, 'ciphertextHash'),
    ciphertext: reqString(o, 'ciphertext'),
  };
  if (o.envelope !== undefined) {
    const e = o.envelope;
    if (typeof e !== 'object' || e === null || Array.isArray(e)) malformed("invalid 'envelope' (expected KmsEnvelope shape)");
    const eo = e as Record<string, unknown>;
    const env = {} as KmsEnvelope;
    for (const f of ENVELOPE_FIELDS) {
      const v = eo[f];
      if (typeof v !== 'string' || v === '') malformed(`invalid 'envelope.${f}' (expected non-empty string)`);
      env[f] = v;
    }
    a.envelope = env;
  }
  const expiresAt = optString(o, 'expiresAt');
  if (expiresAt !== undefined) a.expiresAt = expiresAt;
  if (revokedAt !== undefined) a.revokedAt = revokedAt;
  const signature = optString(o, 'signature');
  if (signature !== undefined) a.signature = signature;
  const alg = optString(o, 'signatureAlgorithm');
  if (alg !== undefined) {
    if (alg !== 'Ed25519' && alg !== 'ECDSA_SHA256') malformed("invalid 'signatureAlgorithm': expected one of Ed25519, ECDSA_SHA256");
    a.signatureAlgorithm = alg;
  }
  return { kind: 'packed', artifact: a };
}

const REVISION = /^(\d{1,16})-([0-9a-f]{8})$/;

/** Split `<epoch-ms>-<8 hex>`; undefined when the revision does not have Clef's shape. */
export function parseRevision(r: string): { ms: number; suffix: string } | undefined {
  const m = REVISION.exec(r);
  if (m === null) return undefined;
  return { ms: Number(m[1]), suffix: m[2] ?? '' };
}
