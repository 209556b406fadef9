// Shared setup for the KMS emulator tests: a fresh state directory, an emulator on a free
// loopback port, and @aws-sdk/client-kms clients that trust its CA explicitly.
import { Agent } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startKmsEmulator, type KmsEmulator, type KmsEmulatorOptions, type KmsPrincipal } from '../simulator/kms/server.ts';

export const ACCOUNT = '111122223333';
export const OTHER_ACCOUNT = '444455556666';
export const ADMIN: KmsPrincipal = {
  accessKeyId: 'AKIAEMULATORADMIN001',
  secretAccessKey: 'admin-secret-key-for-tests-only-0000000000',
  principalArn: `arn:aws:iam::${ACCOUNT}:user/admin`,
};
export const ENCLAVE_ROLE: KmsPrincipal = {
  accessKeyId: 'ASIAEMULATORENCLAVE1',
  secretAccessKey: 'enclave-secret-key-for-tests-only-000000',
  principalArn: `arn:aws:sts::${ACCOUNT}:assumed-role/enclave-role/i-0a1b2c3d4e5f60718`,
  sessionToken: 'session-token-for-enclave-tests',
};
export const CI_USER: KmsPrincipal = {
  accessKeyId: 'AKIAEMULATORCIUSER01',
  secretAccessKey: 'ci-secret-key-for-tests-only-00000000000',
  principalArn: `arn:aws:iam::${ACCOUNT}:user/ci`,
};
export const OUTSIDER: KmsPrincipal = {
  accessKeyId: 'AKIAEMULATOROUTSIDER',
  secretAccessKey: 'outsider-secret-key-for-tests-only-000000',
  principalArn: `arn:aws:iam::${OTHER_ACCOUNT}:user/outsider`,
};
export const PRINCIPALS = [ADMIN, ENCLAVE_ROLE, CI_USER, OUTSIDER];

export interface Harness {
  emulator: KmsEmulator;
  stateDir: string;
  client(p?: Pick<KmsPrincipal, 'accessKeyId' | 'secretAccessKey' | 'sessionToken'>, extra?: { region?: string; systemClockOffset?: number }): KMSClient;
  close(): Promise<void>;
}

export async function startHarness(opts: Partial<KmsEmulatorOptions> = {}, start: (o: KmsEmulatorOptions) => Promise<KmsEmulator> = startKmsEmulator): Promise<Harness> {
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), 'kms-emulator-test-'));
  const emulator = await start({ principals: PRINCIPALS, accountId: ACCOUNT, ...opts, stateDir });
  const agents: Agent[] = [];
  const clients: KMSClient[] = [];
  return {
    emulator,
    stateDir,
    client(p = ADMIN, extra = {}) {
      const agent = new Agent({ ca: emulator.caPem, keepAlive: true });
      agents.push(agent);
      const client = new KMSClient({
        endpoint: emulator.endpoint,
        region: extra.region ?? emulator.region,
        credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey, ...(p.sessionToken === undefined ? {} : { sessionToken: p.sessionToken }) },
        requestHandler: new NodeHttpHandler({ httpsAgent: agent }),
        maxAttempts: 1,
        ...(extra.systemClockOffset === undefined ? {} : { systemClockOffset: extra.systemClockOffset }),
      });
      clients.push(client);
      return client;
    },
    async close() {
      for (const c of clients) c.destroy();
      for (const a of agents) a.destroy();
      await emulator.close();
      if (opts.stateDir === undefined) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error & { name: string; $metadata?: { httpStatusCode?: number } }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { name: string };
  }
  throw new Error('expected the call to be rejected, but it succeeded');
}
