// `attested-pack demo`: the whole chain on one machine with no AWS account and no Docker.
// Every service runs as its own attested-pack process; the Nitro hardware, AWS KMS and the
// CI identity provider are SIMULATED stand-ins, and the output says so. The story itself is
// cli/demo/run.ts; this file prints it and cleans up (also on Ctrl-C).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EXIT_OK, EXIT_REFUSED, stringOption, type Command } from '../command.ts';
import { DemoProcesses } from '../demo/processes.ts';
import { Steps, type DemoContext } from '../demo/context.ts';
import type { DemoCi } from '../demo/ci.ts';
import { SOURCE_ROOT } from '../demo/image.ts';
import { printSummary, runDemo } from '../demo/run.ts';

export const demoCommand: Command = {
  path: ['demo'],
  summary: 'run the whole chain locally on SIMULATED hardware and KMS (no AWS account, no Docker)',
  help: `Usage: attested-pack demo [--dir DIR] [--keep] [--json]

Runs the whole attested-pack chain on this machine, each part as its own process:
  start the KMS emulator (SIMULATED AWS KMS: TLS, SigV4, key policies, Recipient) and
  create the keys → start a SIMULATED CI identity provider (GitHub-shaped OIDC) and write
  a DEVELOPMENT trust policy for it → build the enclave image with that policy measured in
  → build a tampered image → generate, lint and apply the key policies → start the
  simulated enclave (SIMULATED NSM) and the host → create a sample Clef repo encrypted
  with real sops → pack it with the CI client (OIDC token bound to the request) → verify
  the receipt as an auditor would → show the enclave refusing four attacks (a fabricated
  commit, a feature branch, production ciphertext at staging paths, a replayed token) →
  show that a tampered image is refused by KMS → audit CloudTrail (SIMULATED) against the
  receipt store: clean, then the host's own pack flagged (one unexplained decrypt per SOPS file).

Nothing here is trusted by default: the simulated NSM's root certificate is passed
explicitly to every verifier, every result made with it is labelled SIMULATED, and the
trust policy is labelled DEVELOPMENT. Ctrl-C stops every process and removes the work
directory (unless --dir/--keep).

Options:
  --dir DIR   work directory (default: a new temporary directory)
  --keep      keep the work directory (always kept when --dir is given)
  --json      print the final summary as one JSON object on stdout (progress on stderr)

Exit codes: 0 every step behaved as expected (including the refusal of the tampered
image), 1 a step did not.
`,
  options: { dir: { type: 'string' }, keep: { type: 'boolean' }, json: { type: 'boolean' } },
  async run({ values, stdout, stderr, cwd, env }) {
    const json = values.json === true;
    const out = json ? stderr : stdout;
    const dirOpt = stringOption(values, 'dir');
    const dir = dirOpt === undefined ? mkdtempSync(join(tmpdir(), 'attested-pack-demo-')) : resolve(cwd, dirOpt);
    mkdirSync(dir, { recursive: true });
    const keep = values.keep === true || dirOpt !== undefined;
    const ctx: DemoContext = {
      dir, env, procs: new DemoProcesses({ ...env, NO_COLOR: '1' }), steps: new Steps(12, out), cache: join(SOURCE_ROOT, '.cache', 'attested-pack'), clients: [],
    };
    let ci: DemoCi | undefined;
    let succeeded = false;
    const cleanup = async () => {
      for (const c of ctx.clients) c.destroy();
      await ctx.procs.stopAll();
      await ci?.close();
    };
    const onSignal = (signal: NodeJS.Signals) => {
      out.write(`\n${signal}: stopping every demo process…\n`);
      void cleanup().then(() => {
        if (!keep) rmSync(dir, { recursive: true, force: true });
        out.write(keep ? `work directory kept: ${dir}\n` : 'work directory removed\n');
        process.exit(signal === 'SIGINT' ? 130 : 143);
      });
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const started = Date.now();
    out.write(`attested-pack demo — the Nitro hardware, AWS KMS and the CI identity provider are SIMULATED on this machine\nwork directory: ${dir}\n`);
    try {
      const scene = await runDemo(ctx, (c) => (ci = c));
      const summary = { ok: true, ...scene, seconds: Math.round((Date.now() - started) / 100) / 10, workDir: dir, kept: keep };
      succeeded = true;
      if (json) stdout.write(`${JSON.stringify(summary)}\n`);
      else printSummary(out, summary, keep);
      return EXIT_OK;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      out.write(`\n✗ demo failed: ${message}\n  work directory kept for inspection: ${dir}\n`);
      if (json) stdout.write(`${JSON.stringify({ ok: false, error: message, workDir: dir })}\n`);
      return EXIT_REFUSED;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await cleanup();
      // A failed demo keeps its directory for inspection (the message above says where).
      if (succeeded && !keep) rmSync(dir, { recursive: true, force: true });
    }
  },
};
