// The registry of subcommands: one entry per command, with the words and one-line summary
// the top-level help needs, and a loader for the module that implements it. Modules load
// only when their command runs (or shows its --help), so `verify` never loads the
// simulator, the AWS SDK or fastify, and `--help` loads no command at all.
// The summary here must equal the module's own (cli/main.test.ts checks every entry).
import type { Command } from '../command.ts';

export interface CommandEntry {
  /** Words that select the command, e.g. ['verify', 'attestation']. */
  path: string[];
  summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { path: ['demo'], summary: 'run the whole chain locally on SIMULATED hardware and KMS (no AWS account, no Docker)', load: async () => (await import('./demo.ts')).demoCommand },
  { path: ['errors'], summary: 'list the stable verification error codes', load: async () => (await import('./errors.ts')).errorsCommand },
  { path: ['build'], summary: 'build the enclave image (EIF) reproducibly and write its build manifest', load: async () => (await import('./build.ts')).buildCommand },
  { path: ['describe'], summary: "show an EIF's PCRs, sections, metadata and signing certificate", load: async () => (await import('./describe.ts')).describeCommand },
  { path: ['rebuild'], summary: 'rebuild the image from source and compare every input digest and PCR with a manifest', load: async () => (await import('./rebuild.ts')).rebuildCommand },
  { path: ['pcr-diff'], summary: 'explain which PCRs two EIFs differ in, and why (section, ramdisk files)', load: async () => (await import('./pcr-diff.ts')).pcrDiffCommand },
  { path: ['verify', 'attestation'], summary: 'verify AWS Nitro attestation documents (signature, chain, time, PCRs)', load: async () => (await import('./verify-attestation.ts')).verifyAttestationCommand },
  { path: ['verify', 'receipt'], summary: 'verify a pack receipt (attestation, bindings, DSSE, statement, artifact) against a build manifest', load: async () => (await import('./verify-receipt.ts')).verifyReceiptCommand },
  { path: ['policy', 'generate'], summary: 'generate KMS key policies that pin the enclave image PCRs', load: async () => (await import('./policy.ts')).policyGenerateCommand },
  { path: ['policy', 'lint'], summary: 'find fail-open KMS key policies (attestation conditions, Deny, PCR values)', load: async () => (await import('./policy.ts')).policyLintCommand },
  { path: ['kms-emulator'], summary: 'run a local AWS KMS emulator (SigV4, TLS, key policies, Recipient) — SIMULATED', load: async () => (await import('./kms-emulator.ts')).kmsEmulatorCommand },
  { path: ['host'], summary: 'run the host service (CI API, auth, limits, egress proxy) next to the enclave', load: async () => (await import('./host.ts')).hostCommand },
  { path: ['enclave'], summary: 'run the enclave service on a Unix socket (hardware NSM, or SIMULATED for development)', load: async () => (await import('./enclave.ts')).enclaveCommand },
  { path: ['pack'], summary: 'pack an identity for an environment in the enclave (CI client) and verify the receipt', load: async () => (await import('./pack.ts')).packCommand },
  { path: ['open'], summary: 'verify and decrypt a Clef artifact like a runtime agent (prints PLAINTEXT secrets)', load: async () => (await import('./open.ts')).openCommand },
  { path: ['run-enclave'], summary: 'start the enclave with nitro-cli and refuse unless it measures to the build manifest', load: async () => (await import('./run-enclave.ts')).runEnclaveCommand },
  { path: ['doctor'], summary: 'check (and explain) every prerequisite of a Nitro Enclaves parent instance', load: async () => (await import('./doctor.ts')).doctorCommand },
  { path: ['audit'], summary: 'reconcile CloudTrail attested KMS calls with the receipt store', load: async () => (await import('./audit.ts')).auditCommand },
];

/** Every command, loaded (tests and tools that need each command's options or help). */
export async function loadAllCommands(): Promise<Command[]> {
  return Promise.all(COMMANDS.map((c) => c.load()));
}
