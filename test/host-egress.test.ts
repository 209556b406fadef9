// The host's egress proxy as the host runs it (config → startHost): allowlist, refusals
// logged and counted, byte metrics, and a recording of every relayed byte in which a marker
// secret sent through the enclave's TLS never appears.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createTunnelAgent, openTunnel, TunnelError } from '../enclave/tunnel.ts';
import { makeTlsMaterial } from './enclave-support.ts';
import { startHarness, type Harness } from './host-support.ts';

const KMS = 'kms.eu-west-1.amazonaws.com';
const MARKER = 'NO-PLAINTEXT-MARKER-5d1e';
const tlsMaterial = makeTlsMaterial([KMS]);
let upstream: https.Server;
let h: Harness;
const relayed: Buffer[] = [];

beforeAll(async () => {
  upstream = https.createServer({ cert: tlsMaterial.certPem, key: tlsMaterial.keyPem }, (req, res) => {
    req.resume();
    req.on('end', () => res.end(`ok ${MARKER}`));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const port = (upstream.address() as AddressInfo).port;
  h = await startHarness({
    extraConfig: `egress:\n  socketPath: egress.sock\n  allow: ["${KMS}:443=127.0.0.1:${port}"]`,
    host: { onRelay: (_d, c) => relayed.push(Buffer.from(c)) },
  });
});
afterAll(async () => {
  await h.close();
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
});

function send(agent: https.Agent, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: KMS, port: 443, method: 'POST', path: '/', agent }, (res) => {
      let out = '';
      res.on('data', (c: Buffer) => (out += c.toString()));
      res.on('end', () => resolve(out));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('host egress proxy', () => {
  const socketPath = () => join(h.dir, 'egress.sock');

  it('relays TLS to an allowlisted destination; recorded bytes never contain the plaintext', async () => {
    const agent = createTunnelAgent({ socketPath: socketPath(), caPem: tlsMaterial.caPem });
    expect(await send(agent, `{"secret":"${MARKER}"}`)).toBe(`ok ${MARKER}`);
    agent.destroy();
    const all = Buffer.concat(relayed);
    expect(all.length).toBeGreaterThan(0);
    expect(all.includes(Buffer.from(MARKER))).toBe(false);
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    expect(metrics).toMatch(/attested_pack_egress_bytes_total\{direction="out"\} [1-9]/);
    expect(metrics).toMatch(/attested_pack_egress_bytes_total\{direction="in"\} [1-9]/);
  });

  it('refuses any destination not on the allowlist and logs it', async () => {
    for (const [host, port] of [['sts.amazonaws.com', 443], ['127.0.0.1', 22], [KMS, 80]] as const) {
      const err = await openTunnel(socketPath(), host, port).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TunnelError);
      expect((err as TunnelError).code).toBe('TUNNEL_DENIED');
    }
    const logs = h.logs.join('');
    expect(logs).toContain('"destination":"sts.amazonaws.com:443"');
    expect(logs).toContain('egress refused');
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    expect(metrics).toMatch(/attested_pack_egress_refused_total 3/);
  });

  it('refuses a stream that does not start with a tunnel preamble (e.g. a raw ClientHello)', async () => {
    const reply = await new Promise<string>((resolve) => {
      const s = net.connect(socketPath());
      let out = '';
      s.on('connect', () => s.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x0a])));
      s.on('data', (c: Buffer) => (out += c.toString()));
      s.on('close', () => resolve(out));
    });
    expect(reply).toMatch(/^DENY /);
  });
});
