// The Nitro Security Module as the pack service sees it: the request an attestation binds
// and the interface both implementations satisfy — the hardware one (enclave/nsm/device.ts,
// /dev/nsm ioctl) and the simulator's (simulator/nsm.ts, documents from a SIMULATED test CA).
// It lives here, with the document format it produces, so the simulator need not import
// enclave/ (DESIGN's import table); enclave/nsm/nsm.ts re-exports it.

export interface NsmAttestationRequest {
  /** Bound into the document's `user_data` (≤ 1024 bytes); the receipt puts SHA-384(PAE) here. */
  userData?: Uint8Array | null;
  /** Bound into `nonce` (≤ 1024 bytes): the CI's freshness challenge. */
  nonce?: Uint8Array | null;
  /** Bound into `public_key` (≤ 1024 bytes): for KMS Recipient, an RSA-2048 DER SPKI. */
  publicKey?: Uint8Array | null;
}

export interface Nsm {
  /** 'simulated' documents chain only to a SIMULATED root; nothing trusts them by default. */
  readonly kind: 'hardware' | 'simulated';
  /** A fresh COSE_Sign1 attestation document (untagged, as the NSM returns it). */
  attest(req: NsmAttestationRequest): Promise<Uint8Array>;
  /** The PCRs this enclave's documents report (index → 48 bytes). */
  describePcrs(): Promise<Map<number, Uint8Array>>;
  /** Random bytes from the NSM's entropy source. */
  getRandom(length: number): Promise<Uint8Array>;
}
