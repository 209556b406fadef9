// The L4 egress proxy: the enclave's only way to the network. Each tunnel stream starts
// with one preamble line naming its destination (enclave/protocol.ts); the proxy allows it
// only if host:port is on the allowlist (by default the region's KMS endpoint), then relays
// bytes verbatim in both directions. It never terminates TLS, so it only ever sees
// ciphertext; everything refused is logged with the destination it asked for.
import net from 'node:net';
import { TUNNEL_PREAMBLE_MAX_BYTES, listenOnUnixSocket, parseTunnelPreamble } from '../enclave/protocol.ts';

export interface EgressRule {
  /** Destination as the enclave names it (lowercase host name or IP) and port. */
  host: string;
  port: number;
  /** Where to actually connect (e.g. the KMS emulator on 127.0.0.1); default = host:port. */
  connectTo?: { host: string; port: number };
}

export interface EgressEvent {
  event: 'egress-allowed' | 'egress-refused' | 'egress-closed' | 'egress-error';
  destination?: string;
  reason?: string;
  bytesOut?: number;
  bytesIn?: number;
}

export interface EgressOptions {
  allow: EgressRule[];
  /** Time to receive the preamble (ms). */
  preambleTimeoutMs?: number;
  connectTimeoutMs?: number;
  maxConnections?: number;
  log?: (e: EgressEvent) => void;
  /** Sees every relayed chunk (tests check that no plaintext passes). */
  onRelay?: (direction: 'out' | 'in', chunk: Buffer) => void;
  /** Byte counters (metrics). */
  onBytes?: (direction: 'out' | 'in', n: number) => void;
}

/** The default allowlist: the regional KMS endpoint (and its FIPS twin) on 443. */
/**
 * KMS for the region, plus GitHub Actions' OIDC issuer: the enclave fetches the issuer's
 * JWKS itself (TLS terminates inside it). Other issuers (GitLab, GitHub Enterprise) are
 * added by configuration.
 */
export function defaultEgressRules(region: string): EgressRule[] {
  return [
    { host: `kms.${region}.amazonaws.com`, port: 443 },
    { host: `kms-fips.${region}.amazonaws.com`, port: 443 },
    { host: 'token.actions.githubusercontent.com', port: 443 },
  ];
}

/** "host:port" or "host:port=connectHost:connectPort" → rule. */
export function parseEgressRule(text: string): EgressRule {
  const m = /^([A-Za-z0-9.-]+):([0-9]{1,5})(?:=([A-Za-z0-9.-]+):([0-9]{1,5}))?$/.exec(text.trim());
  if (m === null) throw new Error(`egress rule '${text}' is not host:port[=host:port]`);
  const rule: EgressRule = { host: (m[1] as string).toLowerCase(), port: Number(m[2]) };
  if (m[3] !== undefined) rule.connectTo = { host: m[3], port: Number(m[4]) };
  return rule;
}

export function createEgressProxy(opts: EgressOptions): net.Server {
  const log = opts.log ?? (() => {});
  const rules = new Map(opts.allow.map((r) => [`${r.host.toLowerCase()}:${r.port}`, r]));
  const server = net.createServer((inbound) => {
    inbound.on('error', () => {});
    let head = Buffer.alloc(0);
    const refuse = (destination: string | undefined, reason: string) => {
      log({ event: 'egress-refused', ...(destination === undefined ? {} : { destination }), reason });
      inbound.end(`DENY ${reason}\n`);
    };
    const timer = setTimeout(() => refuse(undefined, 'no preamble in time'), opts.preambleTimeoutMs ?? 5000);
    inbound.once('close', () => clearTimeout(timer));
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const nl = head.indexOf(0x0a);
      if (nl < 0) {
        if (head.length > TUNNEL_PREAMBLE_MAX_BYTES) {
          clearTimeout(timer);
          inbound.off('data', onData);
          refuse(undefined, 'preamble too long');
        }
        return;
      }
      clearTimeout(timer);
      inbound.off('data', onData);
      inbound.pause();
      const dest = parseTunnelPreamble(head.toString('utf8', 0, nl));
      if (dest === null) return refuse(undefined, 'not a tunnel preamble');
      const name = `${dest.host}:${dest.port}`;
      const rule = rules.get(name);
      if (rule === undefined) return refuse(name, 'destination not on the allowlist');
      // Bytes sent before OK would be relayed blind; the client protocol never does that.
      if (head.length > nl + 1) return refuse(name, 'data before the tunnel was open');
      const target = rule.connectTo ?? { host: rule.host, port: rule.port };
      const outbound = net.connect({ host: target.host, port: target.port });
      const connectTimer = setTimeout(() => outbound.destroy(new Error('connect timeout')), opts.connectTimeoutMs ?? 10_000);
      let bytesOut = 0;
      let bytesIn = 0;
      outbound.once('connect', () => {
        clearTimeout(connectTimer);
        log({ event: 'egress-allowed', destination: name });
        inbound.write('OK\n');
        inbound.on('data', (c: Buffer) => {
          bytesOut += c.length;
          opts.onRelay?.('out', c);
          opts.onBytes?.('out', c.length);
          if (!outbound.write(c)) inbound.pause();
        });
        outbound.on('drain', () => inbound.resume());
        outbound.on('data', (c: Buffer) => {
          bytesIn += c.length;
          opts.onRelay?.('in', c);
          opts.onBytes?.('in', c.length);
          if (!inbound.write(c)) outbound.pause();
        });
        inbound.on('drain', () => outbound.resume());
        inbound.on('end', () => outbound.end());
        outbound.on('end', () => inbound.end());
        inbound.resume();
      });
      outbound.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(connectTimer);
        log({ event: 'egress-error', destination: name, reason: e.code ?? e.message });
        if (bytesOut + bytesIn === 0 && !inbound.destroyed) inbound.end(`DENY upstream unreachable\n`);
        else inbound.destroy();
      });
      const closeBoth = () => {
        outbound.destroy();
        inbound.destroy();
      };
      inbound.on('close', closeBoth);
      outbound.on('close', () => {
        log({ event: 'egress-closed', destination: name, bytesOut, bytesIn });
        inbound.end();
      });
    };
    inbound.on('data', onData);
  });
  if (opts.maxConnections !== undefined) server.maxConnections = opts.maxConnections;
  return server;
}

export interface RunningEgressProxy {
  server: net.Server;
  close(): Promise<void>;
}

/** Listen on a Unix socket path (replacing a stale socket file, never another file). */
export async function startEgressProxy(socketPath: string, opts: EgressOptions): Promise<RunningEgressProxy> {
  return listenOnUnixSocket(createEgressProxy(opts), socketPath);
}
