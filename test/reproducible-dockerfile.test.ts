// Dockerfile.enclave cannot be built here (no Docker engine). This checks what can be
// checked without one: its COPY lines install exactly the files our build puts under
// rootfs/ (same paths, same modes), its ENV lines give exactly our `env` file and its CMD
// exactly our `cmd` file, and it runs nothing (no RUN: nothing unpinned can sneak in).
// It describes an image built with --trust-policy (one without refuses every pack).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadInputsLock } from '../reproducible/lock.ts';
import { rootfsPlan } from '../reproducible/build-image.ts';
import { ENCLAVE_CMD, ENCLAVE_ENV } from '../build/image-layout.ts';
import { cmdFile, envFile } from '../build/app-ramdisk.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const DOCKERFILE = readFileSync(new URL('../Dockerfile.enclave', import.meta.url), 'utf8');

interface Parsed { from: string[]; copies: Array<{ mode: string; src: string; dest: string }>; env: Array<[string, string]>; cmd: string[] | null; other: string[] }

function parseDockerfile(text: string): Parsed {
  const out: Parsed = { from: [], copies: [], env: [], cmd: null, other: [] };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [instr = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    switch (instr.toUpperCase()) {
      case 'FROM': out.from.push(args); break;
      case 'COPY': {
        const m = /^--chmod=([0-7]{4}) (\S+) (\S+)$/.exec(args);
        if (m === null) out.other.push(line);
        else out.copies.push({ mode: m[1]!, src: m[2]!, dest: m[3]! });
        break;
      }
      case 'ENV': {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(args);
        if (m === null) out.other.push(line);
        else out.env.push([m[1]!, m[2]!]);
        break;
      }
      case 'CMD': out.cmd = JSON.parse(args) as string[]; break;
      default: out.other.push(line);
    }
  }
  return out;
}

/** Every way the Dockerfile disagrees with our build; empty when they agree. */
function disagreements(text: string): string[] {
  const d = parseDockerfile(text);
  const problems: string[] = [];
  if (d.from.length !== 1 || d.from[0] !== 'scratch') problems.push(`FROM must be exactly "scratch", got ${JSON.stringify(d.from)}`);
  for (const o of d.other) problems.push(`unexpected instruction: ${o}`);
  const plan = new Map(rootfsPlan(loadInputsLock(REPO), { trustPolicy: true }).map((p) => [p.path, p.mode.toString(8).padStart(4, '0')]));
  const seen = new Set<string>();
  for (const c of d.copies) {
    const path = c.dest.replace(/^\//, '');
    if (c.src !== path) problems.push(`COPY ${c.src} → ${c.dest}: source and destination paths differ`);
    if (!plan.has(path)) problems.push(`COPY ${c.dest}: not a file of our rootfs`);
    else if (plan.get(path) !== c.mode) problems.push(`COPY ${c.dest}: mode ${c.mode}, our build uses ${plan.get(path)}`);
    seen.add(path);
  }
  for (const p of plan.keys()) if (!seen.has(p)) problems.push(`rootfs file ${p} has no COPY line`);
  // nitro-cli writes env as KEY=VALUE lines in config order, cmd as one argv element per line.
  if (envFile(d.env) !== envFile(ENCLAVE_ENV)) problems.push(`ENV lines give ${JSON.stringify(envFile(d.env))}, our env file is ${JSON.stringify(envFile(ENCLAVE_ENV))}`);
  if (d.cmd === null || cmdFile(d.cmd) !== cmdFile(ENCLAVE_CMD)) problems.push(`CMD ${JSON.stringify(d.cmd)} differs from ${JSON.stringify(ENCLAVE_CMD)}`);
  return problems;
}

describe('Dockerfile.enclave', () => {
  it('agrees with the rootfs, cmd and env of our build', () => {
    expect(disagreements(DOCKERFILE)).toEqual([]);
    expect(parseDockerfile(DOCKERFILE).copies.length).toBeGreaterThan(10);
  });

  it('would be caught drifting: a changed mode, a missing file, an extra RUN, another ENV or CMD', () => {
    expect(disagreements(DOCKERFILE.replace('COPY --chmod=0755 usr/bin/socat', 'COPY --chmod=0775 usr/bin/socat'))).toEqual([expect.stringContaining('mode 0775')]);
    expect(disagreements(DOCKERFILE.replace(/^COPY .*libc\.so\.6\n/m, ''))).toEqual([expect.stringContaining('libc.so.6 has no COPY line')]);
    expect(disagreements(`${DOCKERFILE}RUN echo hi\n`)).toEqual(['unexpected instruction: RUN echo hi']);
    expect(disagreements(DOCKERFILE.replace('ENV NODE_ENV=production', 'ENV NODE_ENV=development'))).toHaveLength(1);
    expect(disagreements(DOCKERFILE.replace('"/app/launch.mjs"', '"/app/enclave.mjs"'))).toHaveLength(1);
    expect(disagreements(DOCKERFILE.replace(/^COPY .*trust-policy\.json\n/m, ''))).toEqual([expect.stringContaining('app/trust-policy.json has no COPY line')]);
    expect(disagreements(DOCKERFILE.replace(/^ENV ATTESTED_PACK_TRUST_POLICY=.*\n/m, ''))).toHaveLength(1);
  });
});
