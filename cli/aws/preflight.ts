// Refusals that need no nitro-cli call: the image's trust policy as the manifest records it,
// and the EIF signing certificate's dates (nitro-cli itself refuses an expired or not-yet-
// valid one, with a less helpful message and only after the allocator and describe steps).
import { readFileSync } from 'node:fs';
import type { BuildManifest } from '../../verifier/build-manifest.ts';
import { readEif } from '../../build/eif.ts';
import { parseEifSignature } from '../../build/eif-signature.ts';
import { signingCertValidity } from '../../build/signing-cert-dates.ts';
import { isBuildError } from '../../build/errors.ts';
import { AwsDeployError } from './errors.ts';

/** A DEVELOPMENT policy, or none, never runs on a Nitro host. Null when the manifest's policy may run. */
export function trustPolicyRefusal(manifest: BuildManifest): AwsDeployError | null {
  const tp = manifest.trustPolicy;
  if (tp === null) {
    return new AwsDeployError(
      'TRUST_POLICY_ABSENT',
      'the build manifest says the image carries no trust policy: the enclave would refuse every pack',
      'Build the image with `attested-pack build --trust-policy FILE` (docs/pack-policy.md) and deploy that EIF and manifest.',
    );
  }
  if (tp.development) {
    return new AwsDeployError(
      'TRUST_POLICY_DEVELOPMENT',
      `the image's trust policy (sha384 ${tp.sha384}) is a DEVELOPMENT policy: it trusts the SIMULATED issuer or development signers and is for the demo and tests only`,
      'Build with a production trust policy ("development": false) and deploy that EIF and manifest.',
    );
  }
  return null;
}

/** Read the EIF and refuse a signing certificate that is not valid at `now`. Unsigned EIFs pass. */
export function eifSigningCertRefusal(eifPath: string, now: Date): AwsDeployError | null {
  let bytes: Buffer;
  try {
    bytes = readFileSync(eifPath);
  } catch (e) {
    return new AwsDeployError('EIF_MISMATCH', `cannot read ${eifPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'Copy the EIF the build manifest describes to this path.');
  }
  try {
    const eif = readEif(bytes);
    if (eif.signature === undefined) return null;
    const { problem } = signingCertValidity(parseEifSignature(eif.signature).certificateDer, now);
    if (problem === null) return null;
    return new AwsDeployError(problem.code, problem.message, 'Sign the image again with a currently valid certificate (attested-pack build --sign-cert/--sign-key), publish its manifest (PCR8 changes), and roll the key policies to it.');
  } catch (e) {
    if (!isBuildError(e)) throw e;
    return new AwsDeployError('EIF_MISMATCH', `${eifPath} is not a well-formed EIF: ${e.code}: ${e.message}`, 'Copy the EIF again and compare its SHA-384 with eif.sha384 in the build manifest.');
  }
}
