// The Nitro Enclaves allocator configuration (/etc/nitro_enclaves/allocator.yaml, read by
// nitro-enclaves-allocator.service at boot): how much memory (memory_mib) and which CPUs
// (cpu_count, or an explicit cpu_pool like "2,3,6-9" — never both) are taken from the parent
// for enclaves. An enclave can only get what is reserved here.
import { parse as parseYaml } from 'yaml';
import { AwsDeployError } from './errors.ts';

export const ALLOCATOR_CONFIG_PATH = '/etc/nitro_enclaves/allocator.yaml';

export interface AllocatorConfig {
  memoryMiB: number;
  /** CPUs reserved (cpu_count, or the size of cpu_pool). */
  cpuCount: number;
  cpuPool?: number[];
}

const RESTART = 'then `systemctl restart nitro-enclaves-allocator.service`';

function expandPool(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (m === null) throw new AwsDeployError('ALLOCATOR_CONFIG', `allocator cpu_pool entry '${part}' is not N or N-M`, `Write cpu_pool as a list like 2,3,6-9, ${RESTART}.`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b - a > 1024) throw new AwsDeployError('ALLOCATOR_CONFIG', `allocator cpu_pool range '${part}' is invalid`, `Write ranges low-high, ${RESTART}.`);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return [...new Set(out)];
}

export function parseAllocatorConfig(text: string): AllocatorConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new AwsDeployError('ALLOCATOR_CONFIG', `allocator.yaml is not YAML: ${(e as Error).message}`, `Fix the file (memory_mib and cpu_count), ${RESTART}.`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new AwsDeployError('ALLOCATOR_CONFIG', 'allocator.yaml is not a map', `Write memory_mib: and cpu_count: lines, ${RESTART}.`);
  }
  const o = raw as Record<string, unknown>;
  const mem = o.memory_mib;
  if (typeof mem !== 'number' || !Number.isSafeInteger(mem) || mem <= 0) {
    throw new AwsDeployError('ALLOCATOR_CONFIG', 'allocator.yaml has no positive integer memory_mib', `Set memory_mib (MiB reserved for enclaves), ${RESTART}.`);
  }
  if (o.cpu_count !== undefined && o.cpu_pool !== undefined) {
    throw new AwsDeployError('ALLOCATOR_CONFIG', 'allocator.yaml sets both cpu_count and cpu_pool', `Keep exactly one of them, ${RESTART}.`);
  }
  if (o.cpu_pool !== undefined) {
    const pool = expandPool(String(o.cpu_pool));
    return { memoryMiB: mem, cpuCount: pool.length, cpuPool: pool };
  }
  const cpus = o.cpu_count;
  if (typeof cpus !== 'number' || !Number.isSafeInteger(cpus) || cpus <= 0) {
    throw new AwsDeployError('ALLOCATOR_CONFIG', 'allocator.yaml has no positive integer cpu_count', `Set cpu_count (CPUs reserved for enclaves, e.g. 2), ${RESTART}.`);
  }
  return { memoryMiB: mem, cpuCount: cpus };
}

/** Problems of `config` for an enclave of this size; empty when it fits. */
export function allocatorShortfalls(config: AllocatorConfig, want: { memoryMiB: number; cpuCount: number }): string[] {
  const out: string[] = [];
  if (config.memoryMiB < want.memoryMiB) out.push(`memory_mib is ${config.memoryMiB} but the enclave needs ${want.memoryMiB} MiB`);
  if (config.cpuCount < want.cpuCount) out.push(`${config.cpuPool === undefined ? 'cpu_count' : 'cpu_pool'} reserves ${config.cpuCount} CPU(s) but the enclave needs ${want.cpuCount}`);
  return out;
}

export function allocatorFix(want: { memoryMiB: number; cpuCount: number }): string {
  return `In ${ALLOCATOR_CONFIG_PATH} set memory_mib: ${want.memoryMiB} (or more) and cpu_count: ${want.cpuCount} (or more; on x86 with hyper-threading use an even number, whole cores), ${RESTART}.`;
}
