// AWS Signature Version 4 verification for the emulator's JSON 1.1 endpoint.
// We recompute the signature exactly as the SigV4 spec describes (canonical request →
// string to sign → HMAC chain) from the headers the client says it signed, and answer
// with the error names AWS front ends use, so SDKs and sops see real failures.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { kmsFail } from './errors.ts';
import { sha256Hex } from '../../verifier/digest.ts';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** When set, requests must carry it as X-Amz-Security-Token. */
  sessionToken?: string;
  principalArn: string;
  /**
   * For an STS assumed-role session: the role's ARN with its path (a session ARN omits the
   * path); aws:PrincipalArn is this ARN, as AWS sets it. Derived without a path when absent.
   */
  roleArn?: string;
}

export interface SignedRequest {
  method: string;
  /** Path with the query string, as received. */
  url: string;
  /** Lower-cased header names; repeated headers joined with ','. */
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface SigV4Options {
  region: string;
  service: string;
  lookup(accessKeyId: string): Credentials | undefined;
  now(): number;
  /** AWS accepts ±15 minutes between the request date and the server clock. */
  maxSkewMs?: number;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const DEFAULT_SKEW_MS = 15 * 60 * 1000;


function hmac(key: Uint8Array | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** RFC 3986 encoding as SigV4 wants it (unreserved characters kept, everything else %XX). */
function uriEncode(s: string, keepSlash: boolean): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, '%20'));
  } catch {
    return s;
  }
}

function canonicalUri(path: string): string {
  // Non-S3 services double-encode: each segment is decoded then encoded once more
  // relative to what is on the wire; clients sign the normalized, once-encoded path.
  if (path === '' ) return '/';
  return path
    .split('/')
    .map((seg) => uriEncode(safeDecode(seg), false))
    .join('/');
}

function canonicalQuery(query: string): string {
  if (query === '') return '';
  const pairs = query
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const i = p.indexOf('=');
      const k = i < 0 ? p : p.slice(0, i);
      const v = i < 0 ? '' : p.slice(i + 1);
      return [uriEncode(safeDecode(k), false), uriEncode(safeDecode(v), false)] as const;
    });
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function trimHeaderValue(v: string): string {
  return v.trim().replace(/\s+/g, ' ');
}

interface ParsedAuthorization {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  terminator: string;
  signedHeaders: string[];
  signature: string;
}

function parseAuthorization(value: string): ParsedAuthorization {
  const space = value.indexOf(' ');
  const algorithm = space < 0 ? value : value.slice(0, space);
  if (algorithm !== ALGORITHM) {
    kmsFail('IncompleteSignatureException', `Unsupported AWS 'algorithm': '${algorithm}'`);
  }
  const fields = new Map<string, string>();
  for (const part of value.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const missing = ['Credential', 'SignedHeaders', 'Signature'].filter((k) => !fields.has(k));
  if (missing.length > 0) {
    kmsFail(
      'IncompleteSignatureException',
      missing.map((k) => `Authorization header requires '${k}' parameter.`).join(' ') + ` Authorization=${value}`,
    );
  }
  const credential = fields.get('Credential') ?? '';
  const scope = credential.split('/');
  if (scope.length !== 5) {
    kmsFail('IncompleteSignatureException', `Credential should have 5 parts separated by '/': ${credential}`);
  }
  const [accessKeyId, date, region, service, terminator] = scope as [string, string, string, string, string];
  const signedHeaders = (fields.get('SignedHeaders') ?? '').split(';').filter((h) => h !== '');
  return { accessKeyId, date, region, service, terminator, signedHeaders, signature: fields.get('Signature') ?? '' };
}

/** `YYYYMMDDTHHMMSSZ` → ms since epoch, or undefined. */
function parseAmzDate(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, se] = m.map(Number) as [number, number, number, number, number, number, number];
  const t = Date.UTC(y, mo - 1, d, h, mi, se);
  return Number.isNaN(t) ? undefined : t;
}

function formatAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
}

export function canonicalRequest(req: SignedRequest, signedHeaders: string[], payloadHash: string): string {
  const q = req.url.indexOf('?');
  const path = q < 0 ? req.url : req.url.slice(0, q);
  const query = q < 0 ? '' : req.url.slice(q + 1);
  const headerLines = signedHeaders.map((h) => `${h}:${trimHeaderValue(req.headers[h] ?? '')}\n`).join('');
  return [req.method, canonicalUri(path), canonicalQuery(query), headerLines, signedHeaders.join(';'), payloadHash].join('\n');
}

/**
 * Verify a request's SigV4 Authorization header. Returns the caller's credentials;
 * throws KmsError with the AWS error type otherwise.
 */
export function verifySigV4(req: SignedRequest, opts: SigV4Options): Credentials {
  const authorization = req.headers['authorization'];
  if (authorization === undefined || authorization === '') {
    if (req.url.includes('X-Amz-Signature=')) {
      kmsFail('IncompleteSignatureException', 'Presigned requests are not supported by this endpoint.');
    }
    kmsFail('MissingAuthenticationTokenException', 'Missing Authentication Token');
  }
  const auth = parseAuthorization(authorization);

  const amzDate = req.headers['x-amz-date'];
  let requestTime: number | undefined;
  let requestDateText: string;
  if (amzDate !== undefined) {
    requestTime = parseAmzDate(amzDate);
    requestDateText = amzDate;
  } else if (req.headers['date'] !== undefined) {
    const t = Date.parse(req.headers['date']);
    requestTime = Number.isNaN(t) ? undefined : t;
    requestDateText = req.headers['date'];
  } else {
    kmsFail('IncompleteSignatureException', `Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=${authorization}`);
  }
  if (requestTime === undefined) {
    kmsFail('IncompleteSignatureException', `Date must be in ISO-8601 'basic format'. Got '${requestDateText}'. See http://en.wikipedia.org/wiki/ISO_8601`);
  }

  if (!auth.signedHeaders.includes('host')) {
    kmsFail('InvalidSignatureException', "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  for (const h of auth.signedHeaders) {
    if (h !== h.toLowerCase()) kmsFail('InvalidSignatureException', `SignedHeaders must be lower case: '${h}'.`);
  }

  // Unknown key first: AWS reports an unknown access key before looking at the signature.
  const creds = opts.lookup(auth.accessKeyId);
  if (creds === undefined) {
    kmsFail('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }
  const token = req.headers['x-amz-security-token'];
  if ((creds.sessionToken ?? undefined) !== token) {
    kmsFail('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }

  const scopeDate = formatAmzDate(requestTime).slice(0, 8);
  if (auth.date !== scopeDate) {
    kmsFail(
      'InvalidSignatureException',
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.date}' != '${scopeDate}', from '${requestDateText}'.`,
    );
  }
  if (auth.region !== opts.region) {
    kmsFail('InvalidSignatureException', `Credential should be scoped to a valid region. `);
  }
  if (auth.service !== opts.service) {
    kmsFail('InvalidSignatureException', `Credential should be scoped to correct service: '${opts.service}'. `);
  }
  if (auth.terminator !== 'aws4_request') {
    kmsFail('InvalidSignatureException', `Credential should be scoped with a valid terminator: 'aws4_request', not '${auth.terminator}'. `);
  }

  const now = opts.now();
  const skew = opts.maxSkewMs ?? DEFAULT_SKEW_MS;
  const minutes = Math.round(skew / 60000);
  if (requestTime < now - skew) {
    kmsFail(
      'InvalidSignatureException',
      `Signature expired: ${formatAmzDate(requestTime)} is now earlier than ${formatAmzDate(now - skew)} (${formatAmzDate(now)} - ${minutes} min.)`,
    );
  }
  if (requestTime > now + skew) {
    kmsFail(
      'InvalidSignatureException',
      `Signature not yet current: ${formatAmzDate(requestTime)} is still later than ${formatAmzDate(now + skew)} (${formatAmzDate(now)} + ${minutes} min.)`,
    );
  }

  // The payload hash is always computed from the bytes received; a client-sent
  // x-amz-content-sha256 that disagrees therefore fails the signature check below.
  const actualPayloadHash = sha256Hex(req.body);
  const claimed = req.headers['x-amz-content-sha256'];
  if (claimed !== undefined && claimed !== 'UNSIGNED-PAYLOAD' && claimed !== actualPayloadHash) {
    kmsFail('InvalidSignatureException', 'The provided x-amz-content-sha256 header does not match what was computed.');
  }
  const payloadHash = claimed === 'UNSIGNED-PAYLOAD' ? claimed : actualPayloadHash;

  const canonical = canonicalRequest(req, auth.signedHeaders, payloadHash);
  const scope = `${auth.date}/${auth.region}/${auth.service}/${auth.terminator}`;
  const stringToSign = [ALGORITHM, requestDateText, scope, sha256Hex(canonical)].join('\n');
  const expected = hmac(signingKey(creds.secretAccessKey, auth.date, auth.region, auth.service), stringToSign);
  const given = /^[0-9a-f]{64}$/.test(auth.signature) ? Buffer.from(auth.signature, 'hex') : Buffer.alloc(0);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    kmsFail(
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    );
  }
  return creds;
}

/** Sign a request (used by tests and tools that speak to the emulator without an SDK). */
export function signSigV4(
  req: SignedRequest,
  creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  region: string,
  service: string,
  now: number,
): Record<string, string> {
  const amzDate = formatAmzDate(now);
  const headers: Record<string, string> = { ...req.headers, 'x-amz-date': amzDate };
  if (creds.sessionToken !== undefined) headers['x-amz-security-token'] = creds.sessionToken;
  const signed = Object.keys(headers).map((h) => h.toLowerCase()).filter((h) => h !== 'authorization' && h !== 'user-agent').sort();
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = v;
  const canonical = canonicalRequest({ ...req, headers: lower }, signed, sha256Hex(req.body));
  const scope = `${amzDate.slice(0, 8)}/${region}/${service}/aws4_request`;
  const stringToSign = [ALGORITHM, amzDate, scope, sha256Hex(canonical)].join('\n');
  const signature = hmac(signingKey(creds.secretAccessKey, amzDate.slice(0, 8), region, service), stringToSign).toString('hex');
  return {
    ...headers,
    authorization: `${ALGORITHM} Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${signature}`,
  };
}
