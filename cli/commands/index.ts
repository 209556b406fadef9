// The registry of subcommands: one import and one entry per command module.
import type { Command } from '../command.ts';
import { demoCommand } from './demo.ts';
import { errorsCommand } from './errors.ts';
import { buildCommand } from './build.ts';
import { describeCommand } from './describe.ts';
import { rebuildCommand } from './rebuild.ts';
import { pcrDiffCommand } from './pcr-diff.ts';
import { verifyAttestationCommand } from './verify-attestation.ts';
import { verifyReceiptCommand } from './verify-receipt.ts';
import { policyGenerateCommand, policyLintCommand } from './policy.ts';
import { kmsEmulatorCommand } from './kms-emulator.ts';
import { hostCommand } from './host.ts';
import { enclaveCommand } from './enclave.ts';
import { packCommand } from './pack.ts';
import { openCommand } from './open.ts';
import { runEnclaveCommand } from './run-enclave.ts';
import { doctorCommand } from './doctor.ts';
import { auditCommand } from './audit.ts';

export const COMMANDS: Command[] = [
  demoCommand,
  errorsCommand,
  buildCommand,
  describeCommand,
  rebuildCommand,
  pcrDiffCommand,
  verifyAttestationCommand,
  verifyReceiptCommand,
  policyGenerateCommand,
  policyLintCommand,
  kmsEmulatorCommand,
  hostCommand,
  enclaveCommand,
  packCommand,
  openCommand,
  runEnclaveCommand,
  doctorCommand,
  auditCommand,
];
