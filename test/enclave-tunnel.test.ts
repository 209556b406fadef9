// The enclave's outbound path end to end on one machine: KMS client → tunnel agent (TLS in
// the "enclave") → Unix socket → host egress proxy (allowlist, L4 relay) → a local TLS server
// standing in for KMS. Also records every relayed byte to show no plaintext crosses the host.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { GenerateRandomCommand, KMSClient } from '@aws-sdk/client-kms';
import { TunnelError, connectTlsThroughTunnel, createTunnelAgent, createTunnelHttpHandler, openTunnel } from '../enclave/tunnel.ts';
import { startEgressProxy, type EgressEvent, type RunningEgressProxy } from '../host/egress.ts';
import { makeTlsMaterial, tempSocketPath } from './enclave-support.ts';

const KMS_HOST = 'kms.eu-west-1.amazonaws.com';
const MARKER = 'PLAINTEXT-MARKER-7f3a9c';
const material = makeTlsMaterial([KMS_HOST, '127.0.0.1']);
let server: https.Server;
let port = 0;
let proxy: RunningEgressProxy;
const tunnelPath = tempSocketPath('tunnel.sock');
const relayed: Buffer[] = [];
const events: EgressEvent[] = [];
const seenServernames: Array<string | false | null> = [];
const seenBodies: string[] = [];

beforeAll(async () => {
  server = https.createServer({ cert: material.certPem, key: material.keyPem }, (req, res) => {
    seenServernames.push((req.socket as tls.TLSSocket).servername);
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seenBodies.push(body);
      if (req.headers['x-amz-target'] === 'TrentService.GenerateRandom') {
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ Plaintext: Buffer.from([0, 1, 2, 3]).toString('base64') }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`echo:${body}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as AddressInfo).port;
  proxy = await startEgressProxy(tunnelPath, {
    allow: [{ host: KMS_HOST, port: 443, connectTo: { host: '127.0.0.1', port } }],
    onRelay: (_d, c) => relayed.push(Buffer.from(c)),
    log: (e) => events.push(e),
  });
});

afterAll(async () => {
  await proxy.close();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

function post(agent: https.Agent, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: KMS_HOST, port: 443, method: 'POST', path: '/', agent }, (res) => {
      let out = '';
      res.on('data', (c: Buffer) => (out += c.toString()));
      res.on('end', () => resolve(out));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('outbound tunnel', () => {
  it('runs TLS inside the enclave with SNI = the KMS host; the host relays only ciphertext', async () => {
    const agent = createTunnelAgent({ socketPath: tunnelPath, caPem: material.caPem });
    const answer = await post(agent, `secret=${MARKER}`);
    agent.destroy();
    expect(answer).toBe(`echo:secret=${MARKER}`);
    expect(seenServernames).toContain(KMS_HOST);
    const all = Buffer.concat(relayed);
    expect(all.length).toBeGreaterThan(500);
    expect(all.includes(Buffer.from(MARKER))).toBe(false);
    expect(events.some((e) => e.event === 'egress-allowed' && e.destination === `${KMS_HOST}:443`)).toBe(true);
  });

  it('carries @aws-sdk/client-kms through the tunnel', async () => {
    const kms = new KMSClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'example-secret' },
      requestHandler: createTunnelHttpHandler({ socketPath: tunnelPath, caPem: material.caPem }),
    });
    const out = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 4 }));
    kms.destroy();
    expect(Buffer.from(out.Plaintext ?? []).toString('hex')).toBe('00010203');
    // The relayed bytes never show the signed request's plaintext either.
    expect(Buffer.concat(relayed).includes(Buffer.from('NumberOfBytes'))).toBe(false);
    expect(seenBodies.some((b) => b.includes('NumberOfBytes'))).toBe(true);
  });

  it('refuses a server certificate from another CA', async () => {
    await expect(connectTlsThroughTunnel({ socketPath: tunnelPath, caPem: material.otherCaPem }, KMS_HOST, 443)).rejects.toThrow(/certificate/i);
  });

  it('refuses destinations that are not on the allowlist, and logs them', async () => {
    const err = await openTunnel(tunnelPath, 'evil.example.com', 443).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TunnelError);
    expect((err as TunnelError).code).toBe('TUNNEL_DENIED');
    expect((err as Error).message).toContain('allowlist');
    const other = await openTunnel(tunnelPath, KMS_HOST, 8443).catch((e: unknown) => e);
    expect((other as TunnelError).code).toBe('TUNNEL_DENIED');
    expect(events.filter((e) => e.event === 'egress-refused').map((e) => e.destination)).toEqual(
      expect.arrayContaining(['evil.example.com:443', `${KMS_HOST}:8443`]),
    );
  });

  it('reports an absent tunnel endpoint', async () => {
    const err = await openTunnel(tempSocketPath('none.sock'), KMS_HOST, 443).catch((e: unknown) => e);
    expect((err as TunnelError).code).toBe('TUNNEL_UNREACHABLE');
  });
});
