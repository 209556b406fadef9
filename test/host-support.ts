// Shared by host-* tests: a host + enclave pair on Unix sockets / loopback, with a simulated
// attestation CA so /v1/ready verifies real COSE documents.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createTestCa, type TestCa } from '../simulator/attestation-issuer.ts';
import { startEnclaveServer, type EnclaveNsm, type PackHandler, type RunningEnclaveServer } from '../enclave/server.ts';
import { parseHostConfig, sha256HexOfToken } from '../host/config.ts';
import { hostLogger, startHost, type RunningHost, type StartHostOptions } from '../host/service.ts';
import { manifestPcrs, parseBuildManifest, type BuildManifest } from '../verifier/index.ts';

export const TOKEN_DEV = 'dev-token-0123456789abcdef';
export const TOKEN_PROD = 'prod-token-0123456789abcdef';

export function testManifest(): BuildManifest {
  const h = (c: string) => c.repeat(96);
  return parseBuildManifest(
    JSON.stringify({
      schema: 'attested-pack/build-manifest/v1',
      project: { name: 'attested-pack', version: '0.1.0', sourceCommit: 'a'.repeat(40), sourceDirty: false },
      blobSet: { kind: 'development', description: 'test' },
      sourceDateEpoch: 0,
      inputs: [],
      eif: { file: 'enclave.eif', sha384: h('e'), size: 1 },
      pcrs: { '0': h('1'), '1': h('2'), '2': h('3') },
      trustPolicy: { sha384: '7'.repeat(96), development: false, path: '/app/trust-policy.json' },
    }),
  );
}

let caPromise: Promise<TestCa> | undefined;
export function testCa(): Promise<TestCa> {
  caPromise ??= createTestCa();
  return caPromise;
}

/** An NSM double that issues real simulated documents with the given PCRs. */
export async function caNsm(pcrs: Map<number, Uint8Array>): Promise<EnclaveNsm> {
  const ca = await testCa();
  return {
    kind: 'simulated',
    attest: (req) => ca.issue({ pcrs, nonce: req.nonce ?? null, userData: req.userData ?? null, publicKey: req.publicKey ?? null }),
    describePcrs: async () => pcrs,
    getRandom: async (n) => new Uint8Array(n),
  };
}

export interface Harness {
  host: RunningHost;
  url: string;
  enclave: RunningEnclaveServer | undefined;
  enclaveSocket: string;
  logs: string[];
  dir: string;
  close(): Promise<void>;
}

export interface HarnessOptions {
  handler?: PackHandler;
  nsm?: EnclaveNsm | null;
  /** Do not start the enclave (host sees it as down). */
  noEnclave?: boolean;
  extraConfig?: string;
  limits?: string;
  host?: StartHostOptions;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'ap-host-'));
  const manifest = testManifest();
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  const ca = await testCa();
  writeFileSync(join(dir, 'root.pem'), ca.rootPem);
  const enclaveSocket = join(dir, 'enclave.sock');
  const enclave = opts.noEnclave
    ? undefined
    : await startEnclaveServer(enclaveSocket, {
        nsm: opts.nsm === undefined ? await caNsm(manifestPcrs(manifest)) : opts.nsm,
        ...(opts.handler === undefined ? {} : { packHandler: opts.handler }),
      });
  const config = parseHostConfig(
    `
listen: { host: 127.0.0.1, port: 0 }
enclave: { socketPath: enclave.sock }
region: eu-west-1
manifest: manifest.json
attestationRoot: root.pem
readyCacheMs: 0
credentials: { source: static, accessKeyId: AKIDHOSTTEST, secretAccessKey: host-secret-value }
logLevel: info
auth:
  tokens:
    - { name: ci-dev, sha256: ${sha256HexOfToken(TOKEN_DEV)}, identities: [api-svc], environments: [dev] }
    - { name: ci-prod, sha256: ${sha256HexOfToken(TOKEN_PROD)}, identities: ['*'], environments: [production] }
${opts.extraConfig ?? ''}
${opts.limits ?? ''}
`,
    dir,
  );
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  const host = await startHost(config, { logger: hostLogger('debug', sink), ...opts.host });
  return {
    host,
    url: host.address,
    enclave,
    enclaveSocket,
    logs,
    dir,
    async close() {
      await host.close();
      await enclave?.close();
    },
  };
}
