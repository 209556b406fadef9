// The CI side of POST /v1/pack, and how CI proves who it is: a bearer token, or a GitHub
// Actions OIDC token fetched from the runner's token endpoint for our audience.
import type { CollectedObjects } from './git-objects.ts';
import type { PackProof } from '../../enclave/protocol.ts';

export class HostCallError extends Error {
  override readonly name = 'HostCallError';
  readonly status: number;
  readonly code: string;
  readonly detail: string | undefined;

  constructor(status: number, code: string, message: string, detail?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

export interface PackReply {
  requestId: string;
  commit: string;
  artifact: Uint8Array;
  receipt: Uint8Array;
}

export interface PackCall {
  hostUrl: string;
  token: string;
  identity: string;
  environment: string;
  nonce: Uint8Array;
  objects: CollectedObjects;
  /** Pack options passed to the enclave (signingKeyArn, ttlSeconds, bindEncryptionContext). */
  options?: Record<string, string | number | boolean>;
  /** The proof the enclave verifies (an OIDC token for the request-bound audience, or sshsig). */
  proof?: PackProof;
  timeoutMs?: number;
}

export async function requestPack(call: PackCall): Promise<PackReply> {
  const url = new URL('/v1/pack', call.hostUrl);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${call.token}` },
      body: JSON.stringify({
        identity: call.identity,
        environment: call.environment,
        nonce: Buffer.from(call.nonce).toString('base64'),
        commit: call.objects.commit,
        objectFormat: call.objects.objectFormat,
        objects: call.objects.objects.map((o) => Buffer.from(o).toString('base64')),
        ...(call.options === undefined ? {} : { options: call.options }),
        ...(call.proof === undefined ? {} : { proof: call.proof }),
      }),
      signal: AbortSignal.timeout(call.timeoutMs ?? 180_000),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    throw new HostCallError(0, 'HOST_UNREACHABLE', `cannot reach ${url.origin}: ${cause ?? (e as Error).message}`);
  }
  const text = await res.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new HostCallError(res.status, 'BAD_RESPONSE', `host answered ${res.status} with a non-JSON body`);
  }
  if (!res.ok) {
    const err = (json.error ?? {}) as { code?: unknown; message?: unknown; detail?: unknown };
    throw new HostCallError(
      res.status,
      typeof err.code === 'string' ? err.code : 'HTTP_' + res.status,
      typeof err.message === 'string' ? err.message : `host answered ${res.status}`,
      typeof err.detail === 'string' ? err.detail : undefined,
    );
  }
  const { requestId, commit, artifact, receipt } = json;
  if (typeof commit !== 'string' || typeof artifact !== 'string' || typeof receipt !== 'string') {
    throw new HostCallError(res.status, 'BAD_RESPONSE', 'host answer lacks commit/artifact/receipt');
  }
  return {
    requestId: typeof requestId === 'string' ? requestId : '',
    commit,
    artifact: Buffer.from(artifact, 'base64'),
    receipt: Buffer.from(receipt, 'base64'),
  };
}
