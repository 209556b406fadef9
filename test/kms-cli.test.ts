// `attested-pack kms-emulator` as a process: starts, serves SigV4 requests with the
// principals it generated, keeps keys across restarts, stops cleanly on SIGTERM, and
// refuses corrupt state with a clear error instead of resetting it.
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent } from 'node:https';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateRandomCommand, KMSClient } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { main } from '../cli/main.ts';
import { openCiphertextForRecipient } from '../enclave/cms.ts';
import { createTestCa } from '../simulator/attestation-issuer.ts';
import { createSimulatedNsm, writeSimulatedRoot } from '../simulator/nsm.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));
const bin = join(repo, 'bin', 'attested-pack');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'kms-cli-'));
  dirs.push(d);
  return d;
}

interface Started {
  child: ChildProcess;
  info: { endpoint: string; region: string; accountId: string; caFile: string; principals: Array<{ accessKeyId: string; principalArn: string }> };
}

function startCli(args: string[]): Promise<Started> {
  const child = spawn(process.execPath, [bin, 'kms-emulator', '--json', ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve({ child, info: JSON.parse(out.slice(0, nl)) });
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => reject(new Error(`kms-emulator exited ${code}: ${err}`)));
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

function clientFor(started: Started, stateDir: string): KMSClient {
  const [p] = JSON.parse(readFileSync(join(stateDir, 'principals.json'), 'utf8')) as Array<{ accessKeyId: string; secretAccessKey: string }>;
  return new KMSClient({
    endpoint: started.info.endpoint,
    region: started.info.region,
    credentials: { accessKeyId: p!.accessKeyId, secretAccessKey: p!.secretAccessKey },
    requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: readFileSync(started.info.caFile) }) }),
    maxAttempts: 1,
  });
}

describe('attested-pack kms-emulator', () => {
  it('serves, persists keys across restarts and stops on SIGTERM', async () => {
    const state = tempDir();
    const first = await startCli(['--state', state, '--region', 'eu-west-1']);
    expect(first.info.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(first.info.region).toBe('eu-west-1');
    let kms = clientFor(first, state);
    const key = await kms.send(new CreateKeyCommand({}));
    expect(key.KeyMetadata!.Arn).toMatch(/^arn:aws:kms:eu-west-1:111122223333:key\//);
    const enc = await kms.send(new EncryptCommand({ KeyId: key.KeyMetadata!.KeyId, Plaintext: Buffer.from('kept') }));
    kms.destroy();
    expect(await stop(first.child)).toBe(0);

    const second = await startCli(['--state', state, '--region', 'eu-west-1']);
    expect(second.info.principals[0]!.accessKeyId).toBe(first.info.principals[0]!.accessKeyId);
    kms = clientFor(second, state);
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
    expect(Buffer.from(dec.Plaintext!).toString()).toBe('kept');
    kms.destroy();
    expect(await stop(second.child)).toBe(0);
  });

  it('refuses a corrupt or foreign state file, and a state made for another region', async () => {
    const io = (): { stdout: NodeJS.WritableStream & { text: string }; stderr: NodeJS.WritableStream & { text: string } } => {
      const mk = (): NodeJS.WritableStream & { text: string } => {
        const s = { text: '', write(c: string) { s.text += c; return true; } };
        return s as unknown as NodeJS.WritableStream & { text: string };
      };
      return { stdout: mk(), stderr: mk() };
    };
    const corrupt = tempDir();
    writeFileSync(join(corrupt, 'kms-state.json'), '{"format":"attested-pack/kms-emulator-state/v1","accountId":"111122223333","region":"us-east-1","keys":[{"keyId":1}],"aliases":[]}');
    let s = io();
    expect(await main(['kms-emulator', '--state', corrupt], s as never)).toBe(2);
    expect(s.stderr.text).toMatch(/STATE_CORRUPT/);
    // Never reset: the file is untouched.
    expect(readFileSync(join(corrupt, 'kms-state.json'), 'utf8')).toContain('"keyId":1');

    const garbage = tempDir();
    writeFileSync(join(garbage, 'kms-state.json'), 'not json at all');
    s = io();
    expect(await main(['kms-emulator', '--state', garbage], s as never)).toBe(2);
    expect(s.stderr.text).toMatch(/STATE_CORRUPT/);

    const foreign = tempDir();
    writeFileSync(join(foreign, 'kms-state.json'), '{"format":"something-else/v3"}');
    s = io();
    expect(await main(['kms-emulator', '--state', foreign], s as never)).toBe(2);
    expect(s.stderr.text).toMatch(/STATE_FOREIGN/);

    const badCa = tempDir();
    writeFileSync(join(badCa, 'ca.pem'), 'not a certificate');
    writeFileSync(join(badCa, 'ca-key.pem'), 'not a key');
    s = io();
    expect(await main(['kms-emulator', '--state', badCa], s as never)).toBe(2);
    expect(s.stderr.text).toMatch(/STATE_CORRUPT.*ca\.pem/);

    const region = tempDir();
    writeFileSync(join(region, 'kms-state.json'), '{"format":"attested-pack/kms-emulator-state/v1","accountId":"111122223333","region":"us-east-1","keys":[],"aliases":[]}');
    s = io();
    expect(await main(['kms-emulator', '--state', region, '--region', 'eu-west-1'], s as never)).toBe(2);
    expect(s.stderr.text).toMatch(/STATE_FOREIGN.*us-east-1/);
  });

  it('usage errors exit 2', async () => {
    const sink = { write: () => true } as unknown as NodeJS.WritableStream;
    expect(await main(['kms-emulator'], { stdout: sink as never, stderr: sink as never })).toBe(2);
    expect(await main(['kms-emulator', '--state', tempDir(), '--port', 'abc'], { stdout: sink as never, stderr: sink as never })).toBe(2);
    expect(await main(['kms-emulator', '--state', tempDir(), '--account', '12'], { stdout: sink as never, stderr: sink as never })).toBe(2);
    expect(await main(['kms-emulator', '--state', tempDir(), '--principals', join(tempDir(), 'missing.json')], { stdout: sink as never, stderr: sink as never })).toBe(2);
  });
});

describe('state directory lock', () => {
  it('a second emulator on the same state directory is refused while the first runs', async () => {
    const state = tempDir();
    const first = await startCli(['--state', state]);
    const sink = { text: '', write(c: string) { sink.text += c; return true; } };
    expect(await main(['kms-emulator', '--state', state], { stdout: sink as never, stderr: sink as never })).toBe(2);
    expect(sink.text).toMatch(/STATE_LOCKED/);
    expect(await stop(first.child)).toBe(0);
  });
});

describe('--attestation-root', () => {
  it('Recipient documents from the simulated root are accepted; an unreadable root is a usage error', async () => {
    const state = tempDir();
    const ca = await createTestCa();
    const rootFile = writeSimulatedRoot(ca, state);
    const started = await startCli(['--state', state, '--attestation-root', rootFile]);
    try {
      const kms = clientFor(started, state);
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const nsm = createSimulatedNsm({ ca, pcrs: new Map([[0, new Uint8Array(48).fill(5)]]) });
      const out = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 24, Recipient: { AttestationDocument: await nsm.attest({ publicKey: rsa.publicKey.export({ type: 'spki', format: 'der' }) }) } }));
      expect(openCiphertextForRecipient(out.CiphertextForRecipient!, rsa.privateKey)).toHaveLength(24);
      kms.destroy();
    } finally {
      expect(await stop(started.child)).toBe(0);
    }
    const sink = { text: '', write(c: string) { sink.text += c; return true; } };
    writeFileSync(join(state, 'not-a-cert.pem'), 'hello');
    expect(await main(['kms-emulator', '--state', tempDir(), '--attestation-root', join(state, 'not-a-cert.pem')], { stdout: sink as never, stderr: sink as never })).toBe(2);
    expect(sink.text).toMatch(/no PEM certificate/);
  });
});
