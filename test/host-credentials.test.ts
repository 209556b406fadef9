// Credential hand-off: IMDSv2 (session token first, then role name, then role credentials)
// against a local stand-in for the metadata service on 127.0.0.1, with caching until near
// expiry; and IMDS failures surface as CredentialsError (the host answers 503).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CredentialsError, imdsCredentials } from '../host/credentials.ts';

const SESSION = 'imds-session-token';
const log: string[] = [];
let expiration = new Date(Date.now() + 6 * 3600_000).toISOString();
let mode: 'ok' | 'no-role' | 'v1-only' = 'ok';
let server: http.Server;
let endpoint = '';

beforeAll(async () => {
  server = http.createServer((req, res) => {
    log.push(`${req.method} ${req.url}`);
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      if (mode === 'v1-only' || req.headers['x-aws-ec2-metadata-token-ttl-seconds'] === undefined) return res.writeHead(403).end();
      return res.end(SESSION);
    }
    if (req.headers['x-aws-ec2-metadata-token'] !== SESSION) return res.writeHead(401).end();
    if (req.url === '/latest/meta-data/iam/security-credentials/') return res.end(mode === 'no-role' ? '' : 'parent-role\n');
    if (req.url === '/latest/meta-data/iam/security-credentials/parent-role') {
      return res.end(JSON.stringify({ Code: 'Success', AccessKeyId: 'ASIAROLE', SecretAccessKey: 'role-secret', Token: 'role-session', Expiration: expiration }));
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

describe('IMDSv2 credentials', () => {
  it('uses a session token and returns the role credentials, cached until near expiry', async () => {
    mode = 'ok';
    log.length = 0;
    let now = Date.now();
    const source = imdsCredentials(endpoint, () => now);
    const c = await source.get();
    expect(c).toEqual({ accessKeyId: 'ASIAROLE', secretAccessKey: 'role-secret', sessionToken: 'role-session', expiration: Date.parse(expiration) });
    expect(log[0]).toBe('PUT /latest/api/token');
    const calls = log.length;
    await source.get();
    expect(log.length).toBe(calls);
    // Within five minutes of expiry, it refreshes.
    now = Date.parse(expiration) - 60_000;
    expiration = new Date(Date.parse(expiration) + 3600_000).toISOString();
    const again = await source.get();
    expect(log.length).toBeGreaterThan(calls);
    expect(again.expiration).toBe(Date.parse(expiration));
  });

  it('fails with CredentialsError when IMDSv2 is refused or there is no role', async () => {
    mode = 'v1-only';
    await expect(imdsCredentials(endpoint).get()).rejects.toBeInstanceOf(CredentialsError);
    mode = 'no-role';
    await expect(imdsCredentials(endpoint).get()).rejects.toThrow(/no instance role/);
  });

  it('fails with CredentialsError when the endpoint is unreachable', async () => {
    await expect(imdsCredentials('http://127.0.0.1:1').get()).rejects.toBeInstanceOf(CredentialsError);
  });
});
