import { describe, expect, it } from 'vitest';
import { KmsError } from './errors.ts';
import { signSigV4, verifySigV4, type Credentials } from './sigv4.ts';

// The worked example from the AWS S3 SigV4 documentation ("GET Object", examplebucket,
// 2013-05-24): its published signature must verify, and any change must not.
const DOC_CREDS: Credentials = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  principalArn: 'arn:aws:iam::111122223333:user/example',
};
const DOC_SIGNATURE = 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const DOC_TIME = Date.UTC(2013, 4, 24, 0, 0, 0);

function docRequest(signature = DOC_SIGNATURE) {
  return {
    method: 'GET',
    url: '/test.txt',
    body: new Uint8Array(0),
    headers: {
      host: 'examplebucket.s3.amazonaws.com',
      range: 'bytes=0-9',
      'x-amz-content-sha256': EMPTY_SHA256,
      'x-amz-date': '20130524T000000Z',
      authorization: `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=${signature}`,
    } as Record<string, string>,
  };
}

const opts = (over: Partial<Parameters<typeof verifySigV4>[1]> = {}) => ({
  region: 'us-east-1',
  service: 's3',
  lookup: (id: string) => (id === DOC_CREDS.accessKeyId ? DOC_CREDS : undefined),
  now: () => DOC_TIME + 60_000,
  ...over,
});

function errorType(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof KmsError ? e.type : `other: ${String(e)}`;
  }
  return undefined;
}

describe('SigV4 verification', () => {
  it('accepts the AWS documentation example signature', () => {
    expect(verifySigV4(docRequest(), opts()).principalArn).toBe(DOC_CREDS.principalArn);
  });

  it('rejects the example with one signature digit changed, a changed header, or a changed body', () => {
    expect(errorType(() => verifySigV4(docRequest(DOC_SIGNATURE.replace(/^f/, 'e')), opts()))).toBe('InvalidSignatureException');
    const r = docRequest();
    r.headers.range = 'bytes=0-10';
    expect(errorType(() => verifySigV4(r, opts()))).toBe('InvalidSignatureException');
    const b = docRequest();
    b.body = new Uint8Array([1]);
    expect(errorType(() => verifySigV4(b, opts()))).toBe('InvalidSignatureException');
  });

  it('maps each scope/date/credential problem to the AWS error', () => {
    expect(errorType(() => verifySigV4(docRequest(), opts({ region: 'eu-west-1' })))).toBe('InvalidSignatureException');
    expect(errorType(() => verifySigV4(docRequest(), opts({ service: 'kms' })))).toBe('InvalidSignatureException');
    expect(errorType(() => verifySigV4(docRequest(), opts({ now: () => DOC_TIME + 16 * 60_000 })))).toBe('InvalidSignatureException');
    expect(errorType(() => verifySigV4(docRequest(), opts({ now: () => DOC_TIME - 16 * 60_000 })))).toBe('InvalidSignatureException');
    expect(errorType(() => verifySigV4(docRequest(), opts({ lookup: () => undefined })))).toBe('UnrecognizedClientException');
    const noDate = docRequest();
    delete noDate.headers['x-amz-date'];
    expect(errorType(() => verifySigV4(noDate, opts()))).toBe('IncompleteSignatureException');
    const noAuth = docRequest();
    delete noAuth.headers.authorization;
    expect(errorType(() => verifySigV4(noAuth, opts()))).toBe('MissingAuthenticationTokenException');
    const unsignedHost = docRequest();
    unsignedHost.headers.authorization = unsignedHost.headers.authorization!.replace('SignedHeaders=host;', 'SignedHeaders=');
    expect(errorType(() => verifySigV4(unsignedHost, opts()))).toBe('InvalidSignatureException');
    const scopeDate = docRequest();
    scopeDate.headers.authorization = scopeDate.headers.authorization!.replace('/20130524/', '/20130525/');
    expect(errorType(() => verifySigV4(scopeDate, opts()))).toBe('InvalidSignatureException');
  });

  it('signSigV4 output verifies (query strings and session tokens included)', () => {
    const creds = { ...DOC_CREDS, sessionToken: 'tok' };
    const req = { method: 'POST', url: '/path/a%20b?b=2&a=1&a=0', headers: { host: 'h:443', 'content-type': 'application/x-amz-json-1.1' }, body: new Uint8Array([1, 2, 3]) };
    const headers = signSigV4(req, creds, 'us-east-1', 'kms', DOC_TIME);
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    const o = opts({ service: 'kms', lookup: () => creds });
    expect(verifySigV4({ ...req, headers: lower }, o).accessKeyId).toBe(DOC_CREDS.accessKeyId);
    const { 'x-amz-security-token': _dropped, ...withoutToken } = lower;
    expect(errorType(() => verifySigV4({ ...req, headers: withoutToken }, o))).toBe('UnrecognizedClientException');
  });
});

describe('hostile Authorization headers', () => {
  it('only ever produce KmsError', () => {
    let seed = 42;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const parts = ['AWS4-HMAC-SHA256', ' ', 'Credential=', 'AKIAIOSFODNN7EXAMPLE', '/', '20130524', 'us-east-1', 's3', 'aws4_request', ',', 'SignedHeaders=', 'host', ';', 'range', 'Signature=', DOC_SIGNATURE, '=', '%', '\u0000', 'é', '', 'x'.repeat(300)];
    const dates = ['20130524T000000Z', '99999999T999999Z', '', 'Mon, 24 May 2013 00:00:00 GMT', 'not a date', '20130524T000000', '+275760-09-13T00:00:00.000Z'];
    for (let i = 0; i < 3000; i++) {
      const r = docRequest();
      r.headers.authorization = Array.from({ length: 1 + rand(14) }, () => parts[rand(parts.length)]).join('');
      if (rand(2) === 0) r.headers['x-amz-date'] = dates[rand(dates.length)]!;
      if (rand(3) === 0) {
        delete r.headers['x-amz-date'];
        r.headers.date = dates[rand(dates.length)]!;
      }
      if (rand(4) === 0) r.url = ['/%', '/a/../b', '/?a=%zz&b', '/' + '%E9'.repeat(5)][rand(4)]!;
      const t = errorType(() => verifySigV4(r, opts()));
      if (t !== undefined && t.startsWith('other')) throw new Error(`${JSON.stringify(r.headers)} → ${t}`);
    }
  });
});
