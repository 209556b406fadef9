// The in-toto Statement v1 a receipt signs, with our predicate
// (`https://attested-pack.dev/receipt/v1`). One strict validator serves both directions:
// the enclave's builder runs it before signing, the verifier runs it after the signature
// checks, so nothing can be signed that an auditor would refuse. docs/receipt.md is the spec.
import { fail } from './errors.ts';
import { parseStrictJson } from './strict-json.ts';
import { array, arnOrNull, bad, boolean, HEX, integerOrNull, KMS_ARN, object, text, uniqueStrings } from './statement-fields.ts';
import { parseAuthorization } from './statement-authorization.ts';
import { checkCallsMatchKeys, parseKmsCalls } from './statement-kms-calls.ts';

export const IN_TOTO_STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const RECEIPT_PREDICATE_TYPE = 'https://attested-pack.dev/receipt/v1';
export const BUILDER_NAME = 'attested-pack';
export const MAX_STATEMENT_BYTES = 256 * 1024;
export const MAX_CELLS = 1024;
export const MAX_NAMESPACES = 1024;
export const MAX_SOPS_KEYS = 64;
/** Ten years: Clef artifacts' TTL is seconds from packedAt. */
export const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;

export type ObjectFormat = 'sha1' | 'sha256';

export interface ReceiptCell {
  namespace: string;
  environment: string;
  /** Repository-relative path of the SOPS file. */
  path: string;
  /** Git blob id of the SOPS file, verified against the commit's trees. */
  blob: string;
}

export interface ReceiptSource {
  /** The verified repository (= authorization.repository). */
  repository: string;
  /** Commit id the enclave computed from the raw commit object. */
  commit: string;
  objectFormat: ObjectFormat;
  /** Git blob id of clef.yaml. */
  clefYaml: string;
  cells: ReceiptCell[];
}

/** The pack options exactly as requested (and bound into the OIDC audience). */
export interface ReceiptPackOptions {
  signingKeyArn: string | null;
  ttlSeconds: number | null;
  bindEncryptionContext: boolean;
}

export interface ReceiptPack {
  identity: string;
  environment: string;
  namespaces: string[];
  /** Clef revision "<epoch-ms>-<8 hex>". */
  revision: string;
  /** ISO-8601 UTC with milliseconds. */
  packedAt: string;
  options: ReceiptPackOptions;
}

/**
 * The caller proof the enclave verified before it treated clef.yaml as authority
 * (docs/pack-policy.md): an OIDC token from a trusted CI issuer, or an SSH commit signature.
 */
export interface ReceiptAuthorization {
  method: 'oidc' | 'sshsig';
  /** The image's trust policy was marked development: true (demo and tests only). */
  development: boolean;
  /** SHA-384 of the canonical trust policy measured into the image. */
  trustPolicySha384: string;
  issuer: string | null;
  /** Verified repository name (from the token's claims, or the policy for sshsig). */
  repository: string;
  repositoryId: string | null;
  repositoryOwnerId: string | null;
  ref: string | null;
  /** The commit the proof vouches for; always equals source.commit. */
  sha: string;
  event: string | null;
  workflowRef: string | null;
  workflowSha: string | null;
  jobWorkflowRef: string | null;
  jobWorkflowSha: string | null;
  runId: string | null;
  runAttempt: number | null;
  actor: string | null;
  deploymentEnvironment: string | null;
  runnerEnvironment: string | null;
  /** Token iat, unix seconds. */
  issuedAt: number | null;
  /** The commit's committer time, unix seconds. */
  committerTime: number;
  /** sshsig only: the signer key's fingerprint, `SHA256:<base64>`. */
  signerFingerprint: string | null;
}

export type KmsCallOperation = 'Decrypt' | 'Encrypt' | 'Sign' | 'GenerateDataKey';

/**
 * One key-material call the pack made, as KMS answered it: the key ARN KMS reported and the
 * request id from the response's x-amzn-RequestId (TLS ends in the enclave, so it is
 * authentic). CloudTrail logs the same id as `requestID`; the audit joins the two on it.
 */
export interface ReceiptKmsCall {
  operation: KmsCallOperation;
  keyArn: string;
  requestId: string;
}

export interface ReceiptKms {
  sopsDecryptKeys: string[];
  envelopeKey: string | null;
  signingKey: string | null;
  /** Every successful key-material call of the pack, in the order KMS answered them. */
  calls: ReceiptKmsCall[];
}

export interface ReceiptPredicate {
  authorization: ReceiptAuthorization;
  source: ReceiptSource;
  pack: ReceiptPack;
  kms: ReceiptKms;
  artifact: { sha256: string };
  builder: { name: typeof BUILDER_NAME; version: string };
}

export interface StatementSubject {
  name: string;
  digest: { sha256: string };
}

export interface Statement {
  _type: typeof IN_TOTO_STATEMENT_TYPE;
  subject: [StatementSubject];
  predicateType: typeof RECEIPT_PREDICATE_TYPE;
  predicate: ReceiptPredicate;
}

/** What the enclave knows after a pack; the statement is derived from it. */
export interface ReceiptPredicateInput {
  /** Artifact file name, e.g. "<identity>/<environment>.json". */
  artifactName: string;
  authorization: ReceiptAuthorization;
  source: ReceiptSource;
  pack: ReceiptPack;
  kms: ReceiptKms;
  /** SHA-256 of the artifact file bytes, lowercase hex. */
  artifactSha256: string;
  /** Version of the attested-pack build running in the enclave. */
  builderVersion: string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const IDENTITY = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const CLEF_NAME = /^[a-z][a-z0-9_-]{0,63}$/;
const REVISION = /^[0-9]{1,16}-[0-9a-f]{8}$/;
const PACKED_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const VERSION = /^[0-9A-Za-z.+-]{1,64}$/;

function repoPath(v: unknown, where: string): string {
  const p = text(v, where, 4096);
  if (p.startsWith('/') || p.includes('\\')) bad(where, 'must be a relative, "/"-separated repository path');
  for (const seg of p.split('/')) if (seg === '' || seg === '.' || seg === '..') bad(where, 'has an empty, "." or ".." segment');
  return p;
}

function packedAt(v: unknown, where: string): string {
  const s = text(v, where, 24, PACKED_AT);
  // The pattern admits 2026-02-31; a real instant must print back identically.
  const t = Date.parse(s);
  if (!Number.isFinite(t) || new Date(t).toISOString() !== s) bad(where, 'is not a real UTC instant');
  return s;
}

function parseSource(v: unknown, pack: ReceiptPack): ReceiptSource {
  const o = object(v, ['repository', 'commit', 'objectFormat', 'clefYaml', 'cells'], 'predicate.source');
  if (o.objectFormat !== 'sha1' && o.objectFormat !== 'sha256') bad('predicate.source.objectFormat', 'must be "sha1" or "sha256"');
  const format: ObjectFormat = o.objectFormat;
  const id = HEX[format];
  const seen = new Set<string>();
  const cells = array(o.cells, 'predicate.source.cells', MAX_CELLS).map((c, i): ReceiptCell => {
    const where = `predicate.source.cells[${i}]`;
    const cell = object(c, ['namespace', 'environment', 'path', 'blob'], where);
    const namespace = text(cell.namespace, `${where}.namespace`, 64, CLEF_NAME);
    if (!pack.namespaces.includes(namespace)) bad(`${where}.namespace`, `"${namespace}" is not one of pack.namespaces`);
    if (seen.has(namespace)) bad(`${where}.namespace`, `"${namespace}" appears twice`);
    seen.add(namespace);
    const environment = text(cell.environment, `${where}.environment`, 64, CLEF_NAME);
    if (environment !== pack.environment) bad(`${where}.environment`, 'must equal pack.environment');
    return { namespace, environment, path: repoPath(cell.path, `${where}.path`), blob: text(cell.blob, `${where}.blob`, 64, id) };
  });
  return {
    repository: text(o.repository, 'predicate.source.repository', 1024),
    commit: text(o.commit, 'predicate.source.commit', 64, id),
    objectFormat: format,
    clefYaml: text(o.clefYaml, 'predicate.source.clefYaml', 64, id),
    cells,
  };
}

function parsePack(v: unknown): ReceiptPack {
  const o = object(v, ['identity', 'environment', 'namespaces', 'revision', 'packedAt', 'options'], 'predicate.pack');
  const namespaces = array(o.namespaces, 'predicate.pack.namespaces', MAX_NAMESPACES).map((n, i) =>
    text(n, `predicate.pack.namespaces[${i}]`, 64, CLEF_NAME),
  );
  if (namespaces.length === 0) bad('predicate.pack.namespaces', 'must not be empty');
  return {
    identity: text(o.identity, 'predicate.pack.identity', 63, IDENTITY),
    environment: text(o.environment, 'predicate.pack.environment', 64, CLEF_NAME),
    namespaces: uniqueStrings(namespaces, 'predicate.pack.namespaces'),
    revision: text(o.revision, 'predicate.pack.revision', 25, REVISION),
    packedAt: packedAt(o.packedAt, 'predicate.pack.packedAt'),
    options: parsePackOptions(o.options),
  };
}

function parseKms(v: unknown): ReceiptKms {
  const o = object(v, ['sopsDecryptKeys', 'envelopeKey', 'signingKey', 'calls'], 'predicate.kms');
  const keys = array(o.sopsDecryptKeys, 'predicate.kms.sopsDecryptKeys', MAX_SOPS_KEYS).map((k, i) =>
    text(k, `predicate.kms.sopsDecryptKeys[${i}]`, 2048, KMS_ARN),
  );
  const kms: ReceiptKms = {
    sopsDecryptKeys: uniqueStrings(keys, 'predicate.kms.sopsDecryptKeys'),
    envelopeKey: arnOrNull(o.envelopeKey, 'predicate.kms.envelopeKey'),
    signingKey: arnOrNull(o.signingKey, 'predicate.kms.signingKey'),
    calls: parseKmsCalls(o.calls),
  };
  checkCallsMatchKeys(kms);
  return kms;
}

function parsePackOptions(v: unknown): ReceiptPackOptions {
  const o = object(v, ['signingKeyArn', 'ttlSeconds', 'bindEncryptionContext'], 'predicate.pack.options');
  return {
    signingKeyArn: arnOrNull(o.signingKeyArn, 'predicate.pack.options.signingKeyArn'),
    ttlSeconds: integerOrNull(o.ttlSeconds, 'predicate.pack.options.ttlSeconds', 0, MAX_TTL_SECONDS),
    bindEncryptionContext: boolean(o.bindEncryptionContext, 'predicate.pack.options.bindEncryptionContext'),
  };
}

function parsePredicate(v: unknown): ReceiptPredicate {
  const o = object(v, ['authorization', 'source', 'pack', 'kms', 'artifact', 'builder'], 'predicate');
  const pack = parsePack(o.pack);
  const source = parseSource(o.source, pack);
  const kms = parseKms(o.kms);
  const authorization = parseAuthorization(o.authorization, source.objectFormat);
  if (authorization.sha !== source.commit) bad('predicate.authorization.sha', 'must equal predicate.source.commit');
  if (authorization.repository !== source.repository) bad('predicate.authorization.repository', 'must equal predicate.source.repository');
  if (kms.signingKey !== pack.options.signingKeyArn) bad('predicate.kms.signingKey', 'must equal predicate.pack.options.signingKeyArn');
  const artifact = object(o.artifact, ['sha256'], 'predicate.artifact');
  const builder = object(o.builder, ['name', 'version'], 'predicate.builder');
  if (builder.name !== BUILDER_NAME) bad('predicate.builder.name', `must be "${BUILDER_NAME}"`);
  return {
    authorization,
    source,
    pack,
    kms,
    artifact: { sha256: text(artifact.sha256, 'predicate.artifact.sha256', 64, SHA256_HEX) },
    builder: { name: BUILDER_NAME, version: text(builder.version, 'predicate.builder.version', 64, VERSION) },
  };
}

/** Validate a decoded JSON value as a receipt statement. Throws STATEMENT_MALFORMED. */
export function validateStatement(value: unknown): Statement {
  const o = object(value, ['_type', 'subject', 'predicateType', 'predicate'], 'statement');
  if (o._type !== IN_TOTO_STATEMENT_TYPE) bad('statement._type', `must be "${IN_TOTO_STATEMENT_TYPE}"`);
  if (o.predicateType !== RECEIPT_PREDICATE_TYPE) bad('statement.predicateType', `must be "${RECEIPT_PREDICATE_TYPE}"`);
  const subjects = array(o.subject, 'statement.subject', 1);
  if (subjects.length !== 1) bad('statement.subject', 'must have exactly one element (the artifact)');
  const s = object(subjects[0], ['name', 'digest'], 'statement.subject[0]');
  const digest = object(s.digest, ['sha256'], 'statement.subject[0].digest');
  const subject: StatementSubject = {
    name: text(s.name, 'statement.subject[0].name', 256),
    digest: { sha256: text(digest.sha256, 'statement.subject[0].digest.sha256', 64, SHA256_HEX) },
  };
  return { _type: IN_TOTO_STATEMENT_TYPE, subject: [subject], predicateType: RECEIPT_PREDICATE_TYPE, predicate: parsePredicate(o.predicate) };
}

/** Parse the DSSE payload bytes (UTF-8 JSON) as a receipt statement. */
export function parseStatement(bytes: Uint8Array): Statement {
  if (bytes.length > MAX_STATEMENT_BYTES) fail('STATEMENT_MALFORMED', `statement is larger than ${MAX_STATEMENT_BYTES} bytes`);
  let raw: unknown;
  try {
    // Strict: with a duplicate member ("commit" twice) two readers could see two claims.
    raw = parseStrictJson(bytes);
  } catch (e) {
    fail('STATEMENT_MALFORMED', `statement is not strict UTF-8 JSON: ${(e as Error).message}`);
  }
  return validateStatement(raw);
}

/** Build (and validate) the statement for one pack; members in the documented order. */
export function buildReceiptStatement(input: ReceiptPredicateInput): Statement {
  return validateStatement({
    _type: IN_TOTO_STATEMENT_TYPE,
    subject: [{ name: input.artifactName, digest: { sha256: input.artifactSha256 } }],
    predicateType: RECEIPT_PREDICATE_TYPE,
    predicate: {
      authorization: input.authorization,
      source: input.source,
      pack: input.pack,
      kms: input.kms,
      artifact: { sha256: input.artifactSha256 },
      builder: { name: BUILDER_NAME, version: input.builderVersion },
    },
  });
}

/** The DSSE payload bytes: compact UTF-8 JSON of a validated statement. */
export function serializeStatement(statement: Statement): Uint8Array {
  const bytes = new TextEncoder().encode(JSON.stringify(validateStatement(statement)));
  if (bytes.length > MAX_STATEMENT_BYTES) fail('STATEMENT_MALFORMED', `statement is larger than ${MAX_STATEMENT_BYTES} bytes`);
  return bytes;
}
