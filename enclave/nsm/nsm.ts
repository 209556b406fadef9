// The Nitro Security Module as the pack service sees it. Two implementations: the
// hardware one (`device.ts`, /dev/nsm ioctl) and the simulator (`simulator/nsm.ts`,
// documents from a SIMULATED test CA). Code inside the enclave depends only on this.
// The types live in verifier/nsm-types.ts (shared with the simulator, which may not import
// enclave/); this module is the enclave's name for them.
export type { Nsm, NsmAttestationRequest } from '../../verifier/nsm-types.ts';
