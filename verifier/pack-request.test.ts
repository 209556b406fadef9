import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalPackRequestBytes, packRequestAudience, packRequestHash, type CanonicalPackRequest } from './pack-request.ts';

const request: CanonicalPackRequest = {
  identity: 'payments-api',
  environment: 'production',
  commit: 'a'.repeat(40),
  nonce: new Uint8Array([0, 1, 0xfe, 0xff]),
  options: { signingKeyArn: null, ttlSeconds: 3600, bindEncryptionContext: false },
};

// Written out by hand, so a change in key order, spacing or encoding breaks this test.
const EXPECTED_JSON =
  '{"v":1,"identity":"payments-api","environment":"production","commit":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",' +
  '"nonce":"0001feff","options":{"signingKeyArn":null,"ttlSeconds":3600,"bindEncryptionContext":false}}';

describe('canonical pack request', () => {
  it('encodes the fixed key order with no whitespace', () => {
    expect(new TextDecoder().decode(canonicalPackRequestBytes(request))).toBe(EXPECTED_JSON);
  });

  it('hash is base64url SHA-256 of those bytes (independently computed vector)', () => {
    const expected = createHash('sha256').update(Buffer.from(EXPECTED_JSON, 'utf8')).digest('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    expect(packRequestHash(request)).toBe(expected);
    expect(packRequestHash(request)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Pinned (computed with openssl dgst -sha256 | base64url): if this changes, every CI client's audience changes with it.
    expect(packRequestHash(request)).toBe('3fM853tNgLhZyTrVUA3b8RLpbeNtR_9Qb_6gwkHGvtY');
  });

  it('audience is prefix:hash', () => {
    expect(packRequestAudience('attested-pack', request)).toBe(`attested-pack:${packRequestHash(request)}`);
  });

  it('every field changes the hash', () => {
    const base = packRequestHash(request);
    const variants: CanonicalPackRequest[] = [
      { ...request, identity: 'web' },
      { ...request, environment: 'dev' },
      { ...request, commit: 'b'.repeat(40) },
      { ...request, nonce: new Uint8Array([0, 1, 0xfe]) },
      { ...request, options: { ...request.options, signingKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/x' } },
      { ...request, options: { ...request.options, ttlSeconds: null } },
      { ...request, options: { ...request.options, bindEncryptionContext: true } },
    ];
    const hashes = new Set(variants.map(packRequestHash));
    expect(hashes.size).toBe(variants.length);
    expect(hashes.has(base)).toBe(false);
  });

  it('escapes strings as JSON (no injection of extra members)', () => {
    const r = { ...request, identity: 'a","environment":"x' };
    expect(new TextDecoder().decode(canonicalPackRequestBytes(r))).toContain('"identity":"a\\",\\"environment\\":\\"x"');
  });

  it('refuses malformed requests as programming errors', () => {
    expect(() => canonicalPackRequestBytes({ ...request, commit: 'A'.repeat(40) })).toThrow(TypeError);
    expect(() => canonicalPackRequestBytes({ ...request, commit: 'a'.repeat(41) })).toThrow(TypeError);
    expect(() => canonicalPackRequestBytes({ ...request, nonce: 'x' as unknown as Uint8Array })).toThrow(TypeError);
    expect(() => canonicalPackRequestBytes({ ...request, options: { ...request.options, ttlSeconds: 1.5 } })).toThrow(TypeError);
    expect(() => canonicalPackRequestBytes({ ...request, options: { ...request.options, signingKeyArn: 3 as unknown as string } })).toThrow(TypeError);
    expect(() => canonicalPackRequestBytes({ ...request, options: { ...request.options, bindEncryptionContext: 1 as unknown as boolean } })).toThrow(TypeError);
    expect(() => canonicalPackRequestBytes({ ...request, identity: 1 as unknown as string })).toThrow(TypeError);
  });
});
