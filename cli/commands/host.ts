// `attested-pack host`: run the parent-instance service (CI API + egress proxy) from a
// config file until interrupted; `--check` only validates the config.
import { resolve } from 'node:path';
import { ConfigError, loadHostConfig } from '../../host/config.ts';
import { startHost } from '../../host/service.ts';
import { EXIT_OK, UsageError, requireOption, type Command, shutdownSignal } from '../command.ts';

export const hostCommand: Command = {
  path: ['host'],
  summary: 'run the host service (CI API, auth, limits, egress proxy) next to the enclave',
  help: `Usage: attested-pack host --config FILE [--check] [--json]

Serves POST /v1/pack, GET /v1/health, GET /v1/ready (the enclave attests with a fresh nonce
and its PCRs must match the configured build manifest) and GET /metrics (Prometheus), and
relays the enclave's outbound TLS to the allowlisted KMS endpoint. See host/README.md for
the configuration file (YAML or JSON).

Options:
  --config FILE   configuration file                                       (required)
  --check         validate the configuration and exit
  --json          print the startup summary as one JSON line
`,
  options: { config: { type: 'string' }, check: { type: 'boolean' }, json: { type: 'boolean' } },
  async run({ values, stdout, cwd, env }) {
    const file = resolve(cwd, requireOption(values, 'config'));
    let config;
    try {
      config = loadHostConfig(file, env);
    } catch (e) {
      if (e instanceof ConfigError) throw new UsageError(e.message);
      throw e;
    }
    const summary = {
      listen: 'socketPath' in config.listen ? config.listen.socketPath : `${config.listen.host}:${config.listen.port}`,
      enclave: 'socketPath' in config.enclave ? config.enclave.socketPath : `${config.enclave.host}:${config.enclave.port}`,
      region: config.region,
      tokens: config.auth.tokens.map((t) => t.name),
      githubOidc: config.auth.githubOidc?.issuer ?? null,
      egress: config.egress === undefined ? null : config.egress.allow.map((r) => `${r.host}:${r.port}`),
      trust: config.attestationRoot === undefined ? 'aws-nitro-root-g1' : 'custom root',
    };
    if (values.check === true) {
      stdout.write(values.json === true ? `${JSON.stringify({ ok: true, ...summary })}\n` : `config ok: ${JSON.stringify(summary)}\n`);
      return EXIT_OK;
    }
    const host = await startHost(config);
    const stopped = shutdownSignal();
    stdout.write(values.json === true ? `${JSON.stringify({ address: host.address, ...summary })}\n` : `attested-pack host listening on ${host.address}\n`);
    await stopped;
    await host.close();
    return EXIT_OK;
  },
};
