// The KMS emulator on its own thread (benchmarks): real KMS runs elsewhere, so its CPU
// (SigV4, attestation checks, CMS) must not share the enclave's event loop when pack time is
// measured. The same module is the worker's entry point.
import { once } from 'node:events';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { startKmsEmulator, type KmsEmulator, type KmsEmulatorOptions } from '../simulator/kms/server.ts';
import type { LatencyModel } from '../simulator/latency.ts';

type Info = Omit<KmsEmulator, 'setLatency' | 'close'>;
type Reply = { info: Info } | { error: string };

/** Start the emulator in a worker thread; options must be cloneable (no functions). */
export async function startKmsEmulatorInWorker(opts: KmsEmulatorOptions): Promise<KmsEmulator> {
  // Workers do not inherit the TypeScript loader's hooks: register tsx there, then load this file.
  const boot = `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const worker = new Worker(boot, { eval: true, workerData: { kmsEmulator: opts } });
  const [reply] = (await Promise.race([once(worker, 'message'), once(worker, 'error').then(([e]) => Promise.reject(e as Error))])) as [Reply];
  if ('error' in reply) {
    await worker.terminate();
    throw new Error(reply.error);
  }
  return {
    ...reply.info,
    setLatency: (model: LatencyModel | undefined) => worker.postMessage({ setLatency: model ?? null }),
    close: async () => {
      worker.postMessage({ close: true });
      await once(worker, 'exit');
    },
  };
}

if (!isMainThread && (workerData as { kmsEmulator?: KmsEmulatorOptions } | null)?.kmsEmulator !== undefined) {
  const port = parentPort as NonNullable<typeof parentPort>;
  try {
    const emulator = await startKmsEmulator((workerData as { kmsEmulator: KmsEmulatorOptions }).kmsEmulator);
    const { setLatency, close, ...info } = emulator;
    port.on('message', (m: { setLatency?: LatencyModel | null; close?: true }) => {
      if (m.setLatency !== undefined) setLatency(m.setLatency ?? undefined);
      if (m.close === true) void close().then(() => port.close());
    });
    port.postMessage({ info } satisfies Reply);
  } catch (e) {
    port.postMessage({ error: (e as Error).message } satisfies Reply);
  }
}
