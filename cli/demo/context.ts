// What every demo step shares: the work directory, the child processes, the step printer,
// the KMS clients to close, and small helpers that turn a failed child into a DemoFailure.
import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { DemoProcesses, RunResult } from './processes.ts';

export const ACCOUNT = '111122223333';
export const REGION = 'us-east-1';
export const ENCLAVE_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/attested-pack-enclave`;

export class DemoFailure extends Error {}

export interface DemoPrincipal {
  accessKeyId: string;
  secretAccessKey: string;
  principalArn: string;
  sessionToken?: string;
}

export function principal(idPrefix: string, arn: string, session = false): DemoPrincipal {
  const p: DemoPrincipal = { accessKeyId: `${idPrefix}${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64'), principalArn: arn };
  if (session) p.sessionToken = randomBytes(24).toString('base64');
  return p;
}

/** The step printer: numbered steps, indented detail, SIMULATED where it applies. */
export class Steps {
  #n = 0;
  readonly #total: number;
  readonly #out: Writable;
  #t0 = 0;

  constructor(total: number, out: Writable) {
    this.#total = total;
    this.#out = out;
  }

  begin(title: string): void {
    this.#n += 1;
    this.#t0 = Date.now();
    this.#out.write(`\n[${this.#n}/${this.#total}] ${title}\n`);
  }

  detail(text: string): void {
    for (const line of text.split('\n')) this.#out.write(`      ${line}\n`);
  }

  ok(text: string): void {
    this.#out.write(`      ✓ ${text} (${((Date.now() - this.#t0) / 1000).toFixed(1)} s)\n`);
  }
}

export interface DemoContext {
  dir: string;
  env: NodeJS.ProcessEnv;
  procs: DemoProcesses;
  steps: Steps;
  /** Build cache shared by the demo's image builds. */
  cache: string;
  clients: KMSClient[];
}

export function must(r: RunResult, what: string): RunResult {
  if (r.code !== 0) throw new DemoFailure(`${what} failed (exit ${r.code}):\n${r.stderr.trim()}\n${r.stdout.trim()}`);
  return r;
}

export function lastJsonLine(text: string): Record<string, unknown> {
  const line = text.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (line === undefined) throw new DemoFailure(`expected a JSON line, got: ${text.slice(0, 400)}`);
  return JSON.parse(line) as Record<string, unknown>;
}
