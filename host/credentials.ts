// AWS credentials the host hands to the enclave per request: the parent instance's role via
// IMDSv2 (token-protected metadata service; endpoint configurable for tests), the SDK's
// standard chain, or static values (tests and the demo). Cached until shortly before expiry.
import type { AwsCredentials } from '../enclave/protocol.ts';
import type { CredentialsConfig } from './config.ts';

export interface CredentialSource {
  get(): Promise<AwsCredentials>;
}

export class CredentialsError extends Error {
  override readonly name = 'CredentialsError';
}

const REFRESH_MARGIN_MS = 5 * 60_000;

function cached(fetcher: () => Promise<AwsCredentials>, now: () => number): CredentialSource {
  let current: AwsCredentials | undefined;
  let inflight: Promise<AwsCredentials> | undefined;
  return {
    async get() {
      if (current !== undefined && (current.expiration === undefined || current.expiration - REFRESH_MARGIN_MS > now())) return current;
      inflight ??= fetcher().then(
        (c) => {
          current = c;
          inflight = undefined;
          return c;
        },
        (e: unknown) => {
          inflight = undefined;
          throw e instanceof CredentialsError ? e : new CredentialsError(`cannot get AWS credentials: ${(e as Error).message}`);
        },
      );
      return inflight;
    },
  };
}

async function imdsFetch(endpoint: string, path: string, init: RequestInit): Promise<string> {
  const res = await fetch(new URL(path, endpoint), { ...init, signal: AbortSignal.timeout(3000) });
  if (!res.ok) throw new CredentialsError(`IMDS ${path} answered ${res.status}`);
  return res.text();
}

/** IMDSv2: PUT a session token, then read the role name and its credentials with it. */
export function imdsCredentials(endpoint: string, now: () => number = Date.now): CredentialSource {
  return cached(async () => {
    const token = await imdsFetch(endpoint, '/latest/api/token', { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '300' } });
    const headers = { 'x-aws-ec2-metadata-token': token };
    const roles = (await imdsFetch(endpoint, '/latest/meta-data/iam/security-credentials/', { headers })).split('\n').filter((r) => r !== '');
    const role = roles[0];
    if (role === undefined) throw new CredentialsError('IMDS lists no instance role');
    const doc = JSON.parse(await imdsFetch(endpoint, `/latest/meta-data/iam/security-credentials/${encodeURIComponent(role)}`, { headers })) as Record<string, unknown>;
    if (doc.Code !== undefined && doc.Code !== 'Success') throw new CredentialsError(`IMDS role credentials: ${String(doc.Code)}`);
    const { AccessKeyId, SecretAccessKey, Token, Expiration } = doc;
    if (typeof AccessKeyId !== 'string' || typeof SecretAccessKey !== 'string') throw new CredentialsError('IMDS role credentials are malformed');
    const creds: AwsCredentials = { accessKeyId: AccessKeyId, secretAccessKey: SecretAccessKey };
    if (typeof Token === 'string') creds.sessionToken = Token;
    if (typeof Expiration === 'string' && !Number.isNaN(Date.parse(Expiration))) creds.expiration = Date.parse(Expiration);
    return creds;
  }, now);
}

/** The AWS SDK's default provider chain (env, shared files, SSO, container, IMDS). */
export function chainCredentials(region: string, now: () => number = Date.now): CredentialSource {
  return cached(async () => {
    const { KMSClient } = await import('@aws-sdk/client-kms');
    const client = new KMSClient({ region });
    try {
      const c = await client.config.credentials();
      const creds: AwsCredentials = { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey };
      if (c.sessionToken !== undefined) creds.sessionToken = c.sessionToken;
      if (c.expiration !== undefined) creds.expiration = c.expiration.getTime();
      return creds;
    } finally {
      client.destroy();
    }
  }, now);
}

export function credentialSource(config: CredentialsConfig, region: string): CredentialSource {
  switch (config.source) {
    case 'imds':
      return imdsCredentials(config.endpoint);
    case 'chain':
      return chainCredentials(region);
    case 'static': {
      const creds: AwsCredentials = { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey };
      if (config.sessionToken !== undefined) creds.sessionToken = config.sessionToken;
      return { get: async () => creds };
    }
  }
}
