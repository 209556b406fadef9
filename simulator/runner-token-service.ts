// A SIMULATED GitHub Actions runner's token service (what ACTIONS_ID_TOKEN_REQUEST_URL
// points at in a job with `id-token: write`): GET ?audience=<aud> with the job's bearer
// request token → {"value": "<jwt>"}, minted by the SIMULATED OIDC issuer for the job the
// runner is "in". Plain HTTP on loopback, as the CI client accepts only there.
import { createServer, type Server } from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { SimulatedOidcIssuer } from './oidc-issuer.ts';
import type { GithubJob } from './oidc-claims.ts';

export interface RunnerTokenService {
  /** ACTIONS_ID_TOKEN_REQUEST_URL */
  readonly url: string;
  /** ACTIONS_ID_TOKEN_REQUEST_TOKEN */
  readonly requestToken: string;
  /** The environment variables a job step sees. */
  env(): Record<string, string>;
  /** The job the runner is in from now on (merged over the issuer's defaults). */
  setJob(job: Partial<GithubJob>): void;
  /** Audiences asked for so far (tests). */
  readonly audiences: string[];
  close(): Promise<void>;
}

export async function startRunnerTokenService(issuer: SimulatedOidcIssuer, job: Partial<GithubJob> = {}): Promise<RunnerTokenService> {
  const requestToken = randomBytes(24).toString('base64url');
  const expected = Buffer.from(`Bearer ${requestToken}`);
  let current = { ...job };
  const audiences: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const auth = Buffer.from(req.headers.authorization ?? '');
    // @actions/core sends "Bearer"; the CI client sends "bearer": compare case-insensitively on the scheme.
    const normalised = Buffer.from(auth.toString().replace(/^bearer /i, 'Bearer '));
    if (req.method !== 'GET' || url.pathname !== '/token' || normalised.length !== expected.length || !timingSafeEqual(normalised, expected)) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"unauthorized"}');
      return;
    }
    const audience = url.searchParams.get('audience');
    if (audience === null || audience === '') {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"message":"audience required"}');
      return;
    }
    audiences.push(audience);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value: issuer.mintToken({ aud: audience }, { job: current }) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('runner token service: no TCP address');
  const url = `http://127.0.0.1:${address.port}/token`;
  return {
    url,
    requestToken,
    audiences,
    env: () => ({ ACTIONS_ID_TOKEN_REQUEST_URL: url, ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken }),
    setJob(j) {
      current = { ...j };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
