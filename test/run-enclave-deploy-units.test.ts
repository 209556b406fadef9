// The systemd units in deploy/ must agree with the code they start: every attested-pack
// ExecStart parses against that command's real options, the vsock ports/CID match the image
// layout and run-enclave, the Unix socket paths match the example host configuration (which
// must load), the allocator holds the enclave, and the host cannot start without the enclave.
import { describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadAllCommands } from '../cli/commands/index.ts';
import { ENCLAVE_VSOCK_PORT, TUNNEL_VSOCK_PORT } from '../build/image-layout.ts';
import { DEFAULT_ENCLAVE_CID } from '../cli/aws/launch.ts';
import { parseAllocatorConfig } from '../cli/aws/allocator.ts';
import { parseHostConfig } from '../host/config.ts';
import { TESTDATA } from '../cli/aws/fake-nitro-cli.ts';

const DEPLOY = fileURLToPath(new URL('../deploy/', import.meta.url));
const UNITS = join(DEPLOY, 'systemd');
const COMMANDS = await loadAllCommands();

type Unit = Record<string, Record<string, string[]>>;

/** Minimal systemd unit reader: [Section] then Key=Value lines; keys may repeat. */
function readUnit(name: string): Unit {
  const unit: Unit = {};
  let section = '';
  for (const raw of readFileSync(join(UNITS, name), 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(\w+)\]$/.exec(line);
    if (s !== null) {
      section = s[1] as string;
      unit[section] = {};
      continue;
    }
    const eq = line.indexOf('=');
    expect(eq, `${name}: ${line}`).toBeGreaterThan(0);
    const key = line.slice(0, eq);
    const sec = unit[section] as Record<string, string[]>;
    (sec[key] ??= []).push(line.slice(eq + 1));
  }
  return unit;
}

function one(u: Unit, section: string, key: string): string {
  const v = u[section]?.[key];
  expect(v, `${section}.${key}`).toHaveLength(1);
  return (v as string[])[0] as string;
}

function words(u: Unit, section: string, key: string): string[] {
  return (u[section]?.[key] ?? []).flatMap((v) => v.split(/\s+/)).filter((w) => w !== '');
}

function attestedPackArgv(cmdline: string): { argv: string[]; values: Record<string, unknown> } {
  const argv = cmdline.split(/\s+/);
  expect(argv[0]).toBe('/usr/bin/attested-pack');
  const rest = argv.slice(1);
  const command = COMMANDS.filter((c) => c.path.every((w, i) => rest[i] === w)).sort((a, b) => b.path.length - a.path.length)[0];
  expect(command, cmdline).toBeDefined();
  const parsed = parseArgs({ args: rest.slice(command!.path.length), options: command!.options, strict: true, allowPositionals: false });
  return { argv: rest, values: parsed.values };
}

const units = readdirSync(UNITS).filter((f) => f.endsWith('.service'));

describe('deploy/systemd units', () => {
  it('has the four units', () => {
    expect(units.sort()).toEqual(['attested-pack-egress-bridge.service', 'attested-pack-enclave-bridge.service', 'attested-pack-enclave.service', 'attested-pack-host.service']);
  });

  it('every attested-pack command line parses against the real command options', () => {
    let seen = 0;
    for (const name of units) {
      const u = readUnit(name);
      for (const key of ['ExecStart', 'ExecStartPre']) {
        for (const line of u.Service?.[key] ?? []) {
          if (!line.startsWith('/usr/bin/attested-pack')) continue;
          attestedPackArgv(line);
          seen++;
        }
      }
    }
    expect(seen).toBe(3);
  });

  it('run-enclave: the pinned CID is the one the bridge connects to, never debug mode, and the allocator holds it', () => {
    const u = readUnit('attested-pack-enclave.service');
    const { values } = attestedPackArgv(one(u, 'Service', 'ExecStart'));
    expect(values['enclave-cid']).toBe(String(DEFAULT_ENCLAVE_CID));
    expect(one(u, 'Service', 'ExecStart')).not.toContain('debug');
    expect(one(u, 'Service', 'ExecStop')).toContain(`--enclave-name ${String(values['enclave-name'])}`);
    expect(words(u, 'Unit', 'After')).toContain('nitro-enclaves-allocator.service');
    const alloc = parseAllocatorConfig(readFileSync(join(DEPLOY, 'nitro_enclaves/allocator.yaml'), 'utf8'));
    expect(alloc.memoryMiB).toBeGreaterThanOrEqual(Number(values.memory));
    expect(alloc.cpuCount).toBeGreaterThanOrEqual(Number(values['cpu-count']));

    const bridge = one(readUnit('attested-pack-enclave-bridge.service'), 'Service', 'ExecStart');
    expect(bridge).toContain(`VSOCK-CONNECT:${String(values['enclave-cid'])}:${ENCLAVE_VSOCK_PORT}`);
    const egress = one(readUnit('attested-pack-egress-bridge.service'), 'Service', 'ExecStart');
    expect(egress).toContain(`VSOCK-LISTEN:${TUNNEL_VSOCK_PORT},`);
  });

  it('the host cannot start unless run-enclave accepted the enclave', () => {
    const u = readUnit('attested-pack-host.service');
    expect(words(u, 'Unit', 'Requires')).toContain('attested-pack-enclave.service');
    expect(words(u, 'Unit', 'After')).toContain('attested-pack-enclave.service');
    expect(one(u, 'Service', 'NoNewPrivileges')).toBe('yes');
    expect(one(u, 'Service', 'CapabilityBoundingSet')).toBe('');
  });

  it('socket paths agree with the example host configuration, which loads', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-deploy-'));
    try {
      copyFileSync(join(TESTDATA, 'build-manifest-v1.json'), join(dir, 'build-manifest.json'));
      writeFileSync(join(dir, 'host.pem'), '');
      writeFileSync(join(dir, 'host-key.pem'), '');
      const config = parseHostConfig(readFileSync(join(DEPLOY, 'host.yaml.example'), 'utf8'), dir, { ATTESTED_PACK_CI_TOKEN: 'a-token-of-at-least-16-chars' });
      const enclave = config.enclave as { socketPath: string };
      const bridge = one(readUnit('attested-pack-enclave-bridge.service'), 'Service', 'ExecStart');
      expect(bridge).toContain(`UNIX-LISTEN:${enclave.socketPath},`);
      const egress = one(readUnit('attested-pack-egress-bridge.service'), 'Service', 'ExecStart');
      expect(egress).toContain(`UNIX-CONNECT:${config.egress?.socketPath ?? 'missing'}`);
      expect(config.egress?.allow.map((r) => r.host)).toEqual(['kms.eu-west-1.amazonaws.com', 'kms-fips.eu-west-1.amazonaws.com', 'token.actions.githubusercontent.com']);
      const hostArgs = attestedPackArgv(one(readUnit('attested-pack-host.service'), 'Service', 'ExecStart'));
      expect(hostArgs.values.config).toBe('/etc/attested-pack/host.yaml');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
