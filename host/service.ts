// Starts the host: the egress proxy for the enclave's tunnel (when configured) and the HTTP
// API, sharing one metrics registry and one logger. This is what `attested-pack host` runs.
import { pino, type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildHostApp } from './app.ts';
import { directoryReceiptStore, s3ReceiptStore, type ReceiptStore } from './receipt-store.ts';
import type { HostConfig } from './config.ts';
import { credentialSource, type CredentialSource } from './credentials.ts';
import { startEgressProxy, type EgressOptions, type RunningEgressProxy } from './egress.ts';
import { Metrics } from './metrics.ts';

export interface RunningHost {
  app: FastifyInstance;
  /** http://host:port, or the Unix socket path. */
  address: string;
  metrics: Metrics;
  egress?: RunningEgressProxy;
  close(): Promise<void>;
}

export interface StartHostOptions {
  logger?: Logger;
  /** Override the configured credential source (tests). */
  credentials?: CredentialSource;
  /** Sees every byte the egress proxy relays (tests). */
  onRelay?: EgressOptions['onRelay'];
  now?: () => number;
}

/** The host's logger: JSON lines, and nothing that can carry a secret. */
export function hostLogger(level: HostConfig['logLevel'], destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      redact: { paths: ['req.headers.authorization', 'headers.authorization', 'credentials', '*.credentials', 'token'], censor: '[redacted]' },
    },
    // stdout is for command output; logs go to stderr unless told otherwise.
    (destination ?? pino.destination(2)) as Parameters<typeof pino>[1],
  );
}

function openReceiptStore(c: NonNullable<HostConfig['receiptStore']>, region: string): ReceiptStore {
  return 'dir' in c ? directoryReceiptStore(c.dir) : s3ReceiptStore({ ...c.s3, region });
}

export async function startHost(config: HostConfig, opts: StartHostOptions = {}): Promise<RunningHost> {
  const logger = opts.logger ?? hostLogger(config.logLevel);
  const metrics = new Metrics();
  let egress: RunningEgressProxy | undefined;
  if (config.egress !== undefined) {
    const egressLog = logger.child({ component: 'egress' });
    egress = await startEgressProxy(config.egress.socketPath, {
      allow: config.egress.allow,
      onBytes: (direction, n) => metrics.inc('attested_pack_egress_bytes_total', { direction }, n),
      ...(opts.onRelay === undefined ? {} : { onRelay: opts.onRelay }),
      log: (e) => {
        if (e.event === 'egress-refused') {
          metrics.inc('attested_pack_egress_refused_total');
          egressLog.warn(e, 'egress refused');
        } else egressLog.info(e, e.event);
      },
    });
  }
  const app = await buildHostApp({
    enclave: config.enclave,
    credentials: opts.credentials ?? credentialSource(config.credentials, config.region),
    metrics,
    region: config.region,
    manifest: config.manifest,
    ...(config.attestationRoot === undefined ? {} : { attestationRoot: config.attestationRoot }),
    ...(config.tls === undefined ? {} : { tls: config.tls }),
    allowDebug: config.allowDebug,
    readyCacheMs: config.readyCacheMs,
    healthCacheMs: config.healthCacheMs,
    limits: config.limits,
    auth: config.auth,
    ...(config.metricsTokenSha256 === undefined ? {} : { metricsTokenSha256: config.metricsTokenSha256 }),
    logger,
    ...(opts.now === undefined ? {} : { now: opts.now }),
    ...(config.receiptStore === undefined ? {} : { receiptStore: openReceiptStore(config.receiptStore, config.region) }),
  });
  const address =
    'socketPath' in config.listen
      ? await app.listen({ path: config.listen.socketPath })
      : await app.listen({ host: config.listen.host, port: config.listen.port });
  return {
    app,
    address,
    metrics,
    ...(egress === undefined ? {} : { egress }),
    async close() {
      await app.close();
      await egress?.close();
    },
  };
}
