// The pinned trust anchor: AWS Nitro Enclaves root "G1" (CN=aws.nitro-enclaves, P-384,
// valid 2019-10-28 to 2049-10-28), as published by AWS and embedded by hf/nitrite and
// evervault/attestation-doc-validation. Its DER SHA-256 fingerprint is pinned separately,
// so an edit to the PEM below cannot silently change whom we trust.
import { sha256Hex } from './digest.ts';
import { VerificationError } from './errors.ts';

const AWS_NITRO_ROOT_G1_PEM = `-----BEGIN CERTIFICATE-----
MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTEL
MAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYD
VQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4
MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQL
DANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEG
BSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb
48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZE
h8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkF
R+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYC
MQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPW
rfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N
IwLz3/Y=
-----END CERTIFICATE-----
`;

/** DER SHA-256 of the AWS Nitro root G1, lowercase hex. */
export const AWS_NITRO_ROOT_G1_SHA256 = '641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b';

/** Decode one PEM CERTIFICATE block to DER. Returns undefined when there is none. */
export function pemCertificateToDer(pem: string): Uint8Array | undefined {
  const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem);
  if (m === null || m[1] === undefined) return undefined;
  const der = Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
  return der.length === 0 ? undefined : new Uint8Array(der);
}


/**
 * Decode a pinned PEM and check its fingerprint. Returns the DER, or the
 * ROOT_FINGERPRINT_MISMATCH error (returned, not thrown, so that importing this module
 * never throws; verification throws it when the default root is used).
 */
export function loadPinnedRoot(pem: string, expectedSha256: string): Uint8Array | VerificationError {
  const der = pemCertificateToDer(pem);
  if (der === undefined) return new VerificationError('ROOT_FINGERPRINT_MISMATCH', 'embedded root certificate is not a PEM certificate');
  const actual = sha256Hex(der);
  if (actual !== expectedSha256) {
    return new VerificationError(
      'ROOT_FINGERPRINT_MISMATCH',
      `embedded root certificate has SHA-256 ${actual}, pinned ${expectedSha256}`,
      { actual, expected: expectedSha256 },
    );
  }
  return der;
}

const loaded = loadPinnedRoot(AWS_NITRO_ROOT_G1_PEM, AWS_NITRO_ROOT_G1_SHA256);

/** DER of the AWS Nitro root G1 (empty only if the pinned fingerprint check failed). */
export const AWS_NITRO_ROOT_G1_DER: Uint8Array = loaded instanceof Uint8Array ? loaded : new Uint8Array(0);

/** The embedded root, or throw ROOT_FINGERPRINT_MISMATCH if it does not match its pin. */
export function awsNitroRootG1(): Uint8Array {
  if (loaded instanceof VerificationError) throw loaded;
  return AWS_NITRO_ROOT_G1_DER;
}
