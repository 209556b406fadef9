import { describe, expect, it } from 'vitest';
import { isVerificationError } from './errors.ts';
import {
  buildReceiptStatement,
  MAX_CELLS,
  MAX_STATEMENT_BYTES,
  parseStatement,
  serializeStatement,
  validateStatement,
  type ReceiptPredicateInput,
} from './statement.ts';
import { NO_PACK_OPTIONS, sampleReceiptAuthorization } from './test-authorization.ts';

function input(): ReceiptPredicateInput {
  return {
    artifactName: 'api/production.json',
    authorization: sampleReceiptAuthorization('1'.repeat(64)),
    source: {
      repository: 'example/secrets',
      commit: '1'.repeat(64),
      objectFormat: 'sha256',
      clefYaml: '2'.repeat(64),
      cells: [{ namespace: 'db', environment: 'production', path: 'secrets/db/production.enc.yaml', blob: '3'.repeat(64) }],
    },
    pack: { identity: 'api', environment: 'production', namespaces: ['db', 'cache'], revision: '1795402800123-0a0b0c0d', packedAt: '2026-11-23T10:00:00.000Z', options: { ...NO_PACK_OPTIONS, signingKeyArn: 'arn:aws:kms:us-east-1:123456789012:alias/clef-signing' } },
    kms: {
      sopsDecryptKeys: [],
      envelopeKey: null,
      signingKey: 'arn:aws:kms:us-east-1:123456789012:alias/clef-signing',
      calls: [{ operation: 'Sign', keyArn: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab', requestId: 'df1e3de6-63bc-11e4-bc2b-4198b6150d5c' }],
    },
    artifactSha256: '4'.repeat(64),
    builderVersion: '0.1.0',
  };
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isVerificationError(e)) return e.code;
    throw e;
  }
  return 'ok';
}

/** Build from a modified input, bypassing nothing: the builder validates too. */
function withInput(edit: (i: ReceiptPredicateInput) => void): string {
  const i = input();
  edit(i);
  return code(() => buildReceiptStatement(i));
}

describe('receipt statement', () => {
  it('builds an in-toto v1 statement with members in the documented order', () => {
    const s = buildReceiptStatement(input());
    const json = new TextDecoder().decode(serializeStatement(s));
    expect(json.startsWith('{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"api/production.json","digest":{"sha256":"4444')).toBe(true);
    expect(Object.keys(s.predicate)).toEqual(['authorization', 'source', 'pack', 'kms', 'artifact', 'builder']);
    expect(Object.keys(s.predicate.source)).toEqual(['repository', 'commit', 'objectFormat', 'clefYaml', 'cells']);
    expect(Object.keys(s.predicate.kms)).toEqual(['sopsDecryptKeys', 'envelopeKey', 'signingKey', 'calls']);
    expect(s.predicate.builder).toEqual({ name: 'attested-pack', version: '0.1.0' });
    expect(s.predicate.artifact.sha256).toBe(s.subject[0].digest.sha256);
    // Round trip through bytes gives the same statement.
    expect(parseStatement(serializeStatement(s))).toEqual(s);
  });

  it('accepts sha1 repositories and age identities (null envelope key)', () => {
    expect(withInput((i) => {
      i.source.objectFormat = 'sha1';
      i.source.commit = 'a'.repeat(40);
      i.authorization.sha = 'a'.repeat(40);
      i.source.clefYaml = 'b'.repeat(40);
      i.source.cells = [];
    })).toBe('ok');
  });

  it('records the verified caller proof and refuses one that does not fit the statement', () => {
    const s = buildReceiptStatement(input());
    expect(Object.keys(s.predicate.authorization)).toContain('trustPolicySha384');
    expect(parseStatement(serializeStatement(s)).predicate.authorization).toEqual(s.predicate.authorization);
    // the proof vouches for the computed commit and names the same repository
    expect(withInput((i) => (i.authorization.sha = '9'.repeat(64)))).toBe('STATEMENT_MALFORMED');
    expect(withInput((i) => (i.authorization.repository = 'other/repo'))).toBe('STATEMENT_MALFORMED');
    // every member is required; unknown ones are refused
    expect(withInput((i) => delete (i.authorization as Partial<typeof i.authorization>).actor)).toBe('STATEMENT_MALFORMED');
    expect(withInput((i) => ((i.authorization as unknown as Record<string, unknown>).extra = 1))).toBe('STATEMENT_MALFORMED');
    // method-specific members
    expect(withInput((i) => (i.authorization.issuer = null))).toBe('STATEMENT_MALFORMED');
    expect(withInput((i) => (i.authorization.signerFingerprint = `SHA256:${'A'.repeat(43)}`))).toBe('STATEMENT_MALFORMED');
    expect(withInput((i) => (i.authorization = { ...i.authorization, method: 'sshsig', issuer: null, issuedAt: null }))).toBe('STATEMENT_MALFORMED');
    expect(withInput((i) => (i.authorization = { ...i.authorization, method: 'sshsig', signerFingerprint: `SHA256:${'A'.repeat(43)}` }))).toBe('ok');
    expect(withInput((i) => ((i.authorization as unknown as Record<string, unknown>).method = 'none'))).toBe('STATEMENT_MALFORMED');
    expect(withInput((i) => (i.authorization.trustPolicySha384 = 'A'.repeat(96)))).toBe('STATEMENT_MALFORMED');
    expect(withInput((i) => (i.authorization.runAttempt = 0))).toBe('STATEMENT_MALFORMED');
    expect(withInput((i) => (i.authorization.issuer = 'http://insecure.example'))).toBe('STATEMENT_MALFORMED');
  });

  it('records every pack option, consistent with the KMS keys used', () => {
    expect(withInput((i) => (i.pack.options.ttlSeconds = 3600))).toBe('ok');
    expect(withInput((i) => (i.pack.options.ttlSeconds = -1))).toBe('STATEMENT_MALFORMED');
    expect(withInput((i) => (i.pack.options.ttlSeconds = 1.5))).toBe('STATEMENT_MALFORMED');
    expect(withInput((i) => ((i.pack.options as unknown as Record<string, unknown>).bindEncryptionContext = 'yes'))).toBe('STATEMENT_MALFORMED');
    // the signing key used must be the one requested (a stripped signature shows as a mismatch)
    expect(withInput((i) => (i.pack.options.signingKeyArn = null))).toBe('STATEMENT_MALFORMED');
    expect(withInput((i) => ((i.pack.options as unknown as Record<string, unknown>).repository = 'x'))).toBe('STATEMENT_MALFORMED');
  });

  it('refuses every rule violation (STATEMENT_MALFORMED)', () => {
    const violations: Array<[string, (i: ReceiptPredicateInput) => void]> = [
      ['commit length vs object format', (i) => { i.source.objectFormat = 'sha1'; }],
      ['uppercase hex', (i) => { i.source.commit = 'A'.repeat(64); }],
      ['object format', (i) => { (i.source as { objectFormat: string }).objectFormat = 'md5'; }],
      ['blob id', (i) => { i.source.cells[0]!.blob = 'zz'; }],
      ['cell namespace not packed', (i) => { i.source.cells[0]!.namespace = 'other'; }],
      ['cell namespace twice', (i) => { i.source.cells.push({ ...i.source.cells[0]! }); }],
      ['cell environment', (i) => { i.source.cells[0]!.environment = 'staging'; }],
      ['absolute path', (i) => { i.source.cells[0]!.path = '/etc/passwd'; }],
      ['dot-dot path', (i) => { i.source.cells[0]!.path = 'secrets/../x.yaml'; }],
      ['empty segment', (i) => { i.source.cells[0]!.path = 'secrets//x.yaml'; }],
      ['backslash', (i) => { i.source.cells[0]!.path = 'secrets\\x.yaml'; }],
      ['control character', (i) => { i.source.repository = 'repo\nInjected: yes'; }],
      ['empty repository', (i) => { i.source.repository = ''; }],
      ['identity', (i) => { i.pack.identity = 'API'; }],
      ['identity ends with dash', (i) => { i.pack.identity = 'api-'; }],
      ['environment', (i) => { i.pack.environment = '1prod'; }],
      ['no namespaces', (i) => { i.pack.namespaces = []; }],
      ['duplicate namespaces', (i) => { i.pack.namespaces = ['db', 'db']; }],
      ['revision', (i) => { i.pack.revision = '123-XYZ'; }],
      ['packedAt without ms', (i) => { i.pack.packedAt = '2026-11-23T10:00:00Z'; }],
      ['packedAt impossible date', (i) => { i.pack.packedAt = '2026-02-31T10:00:00.000Z'; }],
      ['KMS ARN', (i) => { i.kms.sopsDecryptKeys = ['arn:aws:s3:::bucket']; }],
      ['duplicate KMS ARN', (i) => { i.kms.sopsDecryptKeys = [i.kms.signingKey!, i.kms.signingKey!]; }],
      ['too many KMS keys', (i) => { i.kms.sopsDecryptKeys = Array.from({ length: 65 }, (_, n) => `arn:aws:kms:us-east-1:123456789012:key/k${n}`); }],
      ['envelope key not an ARN', (i) => { i.kms.envelopeKey = 'alias/foo'; }],
      ['KMS call operation', (i) => { (i.kms.calls[0] as { operation: string }).operation = 'ReEncrypt'; }],
      ['KMS call key is an alias', (i) => { i.kms.calls[0]!.keyArn = 'arn:aws:kms:us-east-1:123456789012:alias/clef-signing'; }],
      ['KMS call request id upper case', (i) => { i.kms.calls[0]!.requestId = 'DF1E3DE6-63BC-11E4-BC2B-4198B6150D5C'; }],
      ['KMS call request id not a UUID', (i) => { i.kms.calls[0]!.requestId = 'req-1'; }],
      ['KMS call request id twice', (i) => { i.kms.calls.push({ ...i.kms.calls[0]! }); }],
      ['KMS call unknown member', (i) => { (i.kms.calls[0] as unknown as Record<string, string>).region = 'us-east-1'; }],
      ['Sign call without signing key', (i) => { i.kms.signingKey = null; i.pack.options.signingKeyArn = null; }],
      ['signing key without Sign call', (i) => { i.kms.calls = []; }],
      ['Decrypt call without SOPS keys', (i) => { i.kms.calls.push({ operation: 'Decrypt', keyArn: i.kms.calls[0]!.keyArn, requestId: '11111111-2222-4333-8444-555555555555' }); }],
      ['Encrypt call without envelope key', (i) => { i.kms.calls.push({ operation: 'Encrypt', keyArn: i.kms.calls[0]!.keyArn, requestId: '11111111-2222-4333-8444-555555555555' }); }],
      ['too many KMS calls', (i) => {
        i.kms.calls = Array.from({ length: 2049 }, (_, n) => ({ operation: 'Sign' as const, keyArn: i.kms.calls[0]!.keyArn, requestId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}` }));
      }],
      ['artifact digest', (i) => { i.artifactSha256 = 'sha256:abc'; }],
      ['subject name', (i) => { i.artifactName = ''; }],
      ['builder version', (i) => { i.builderVersion = 'v 1'; }],
      ['too many cells', (i) => {
        i.pack.namespaces = Array.from({ length: MAX_CELLS + 1 }, (_, n) => `ns${n}`);
        i.source.cells = i.pack.namespaces.map((namespace) => ({ namespace, environment: 'production', path: `s/${namespace}.yaml`, blob: '3'.repeat(64) }));
      }],
    ];
    for (const [what, edit] of violations) expect(withInput(edit), what).toBe('STATEMENT_MALFORMED');
  });

  it('refuses unknown members at every level and wrong types/identifiers', () => {
    const base = (): Record<string, unknown> => JSON.parse(JSON.stringify(buildReceiptStatement(input()))) as Record<string, unknown>;
    const edits: Array<(s: Record<string, unknown>) => void> = [
      (s) => { s.extra = 1; },
      (s) => { (s.predicate as Record<string, unknown>).extra = 1; },
      (s) => { ((s.predicate as Record<string, Record<string, unknown>>).source!).extra = 1; },
      (s) => { ((s.predicate as Record<string, Record<string, unknown>>).kms!).extra = 1; },
      (s) => { ((s.subject as Array<Record<string, Record<string, unknown>>>)[0]!.digest!).sha512 = 'x'; },
      (s) => { s._type = 'https://in-toto.io/Statement/v0.1'; },
      (s) => { s.predicateType = 'https://slsa.dev/provenance/v1'; },
      (s) => { s.subject = [...(s.subject as unknown[]), ...(s.subject as unknown[])]; },
      (s) => { s.subject = []; },
      (s) => { delete (s.predicate as Record<string, unknown>).kms; },
      (s) => { ((s.predicate as Record<string, Record<string, unknown>>).builder!).name = 'other'; },
      (s) => { ((s.predicate as Record<string, Record<string, unknown>>).pack!).namespaces = 'db'; },
    ];
    for (const edit of edits) {
      const s = base();
      edit(s);
      expect(code(() => validateStatement(s))).toBe('STATEMENT_MALFORMED');
    }
  });

  it('refuses non-JSON, non-UTF-8 and oversize payloads', () => {
    expect(code(() => parseStatement(new TextEncoder().encode('{')))).toBe('STATEMENT_MALFORMED');
    expect(code(() => parseStatement(Uint8Array.of(0x7b, 0xff, 0x7d)))).toBe('STATEMENT_MALFORMED');
    expect(code(() => parseStatement(new Uint8Array(MAX_STATEMENT_BYTES + 1).fill(0x20)))).toBe('STATEMENT_MALFORMED');
  });
});
