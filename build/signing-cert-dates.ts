// nitro-cli refuses to run an EIF whose signing certificate is expired or not yet valid
// (enclave_build's EifSigner/verify checks the validity period against the clock). We check
// the same dates earlier — when `build` signs, when `describe` shows the image, and in
// `run-enclave` before nitro-cli is called — so the operator learns it from us, with a code.
import { X509Certificate } from 'node:crypto';
import { BuildError, type BuildErrorCode } from './errors.ts';

export interface SigningCertValidity {
  notBefore: Date;
  notAfter: Date;
  /** Null when valid at `now`. */
  problem: { code: Extract<BuildErrorCode, 'EIF_SIGNING_CERT_EXPIRED' | 'EIF_SIGNING_CERT_NOT_YET_VALID'>; message: string } | null;
}

/** The certificate's validity period and whether `now` lies in it (bounds inclusive, as X.509 says). */
export function signingCertValidity(certDer: Uint8Array, now: Date): SigningCertValidity {
  const cert = new X509Certificate(Buffer.from(certDer));
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) {
    return { notBefore, notAfter, problem: { code: 'EIF_SIGNING_CERT_EXPIRED', message: 'the EIF signing certificate has unreadable validity dates' } };
  }
  const at = now.toISOString();
  if (now.getTime() > notAfter.getTime()) {
    return { notBefore, notAfter, problem: { code: 'EIF_SIGNING_CERT_EXPIRED', message: `the EIF signing certificate expired at ${notAfter.toISOString()} (now ${at}); nitro-cli refuses to run the image — sign it again with a current certificate` } };
  }
  if (now.getTime() < notBefore.getTime()) {
    return { notBefore, notAfter, problem: { code: 'EIF_SIGNING_CERT_NOT_YET_VALID', message: `the EIF signing certificate is valid only from ${notBefore.toISOString()} (now ${at}); nitro-cli refuses to run the image — check the clock or the certificate` } };
  }
  return { notBefore, notAfter, problem: null };
}

/** Throws the coded BuildError when the certificate is not valid at `now`. */
export function assertSigningCertValid(certDer: Uint8Array, now: Date): void {
  const { problem } = signingCertValidity(certDer, now);
  if (problem !== null) throw new BuildError(problem.code, problem.message);
}
