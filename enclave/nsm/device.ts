// The real Nitro Secure Module: /dev/nsm, one ioctl per request.
//
// nsm-api (src/driver/mod.rs) and the kernel driver (sdk-bootstrap kernel/nsm.patch):
// ioctl 0xC0200A00 = _IOWR(0x0A, 0, 32); the argument is two iovecs {u64 addr, u64 len}
// — request, then response. The request is at most 4096 bytes; the driver copies at most
// min(response.len, 12288) bytes back and writes the real length into response.len.
// Messages are CBOR in serde's externally tagged enum form (nsm-api src/api/mod.rs).
//
// The CBOR codec below is pure and unit-tested; the FFI part (openHardwareNsm) is the only
// code that touches koffi, which is loaded lazily so the simulated and health-only modes
// never need the native module.
import { constants as fsConstants, promises as fs } from 'node:fs';
import { Decoder, Encoder } from 'cbor-x';
import type { Nsm } from './nsm.ts';

export const NSM_DEVICE_PATH = '/dev/nsm';
export const NSM_IOCTL_REQUEST = 0xc0200a00;
export const NSM_MAX_REQUEST_BYTES = 4096;
export const NSM_RESPONSE_BYTES = 12 * 1024;

/** The hardware Nsm, plus closing the device. */
export interface NsmDevice extends Nsm {
  readonly kind: 'hardware';
  close(): Promise<void>;
}

export const NSM_ERROR_CODES = [
  'InvalidArgument',
  'InvalidIndex',
  'InvalidResponse',
  'ReadOnlyIndex',
  'InvalidOperation',
  'BufferTooSmall',
  'InputTooLarge',
  'InternalError',
] as const;

export type NsmDeviceErrorCode =
  | 'NSM_DEVICE_MISSING'
  | 'NSM_IOCTL_FAILED'
  | 'NSM_REQUEST_TOO_LARGE'
  | 'NSM_ERROR_RESPONSE'
  | 'NSM_MALFORMED_RESPONSE';

export class NsmDeviceError extends Error {
  readonly code: NsmDeviceErrorCode;
  /** The NSM's own error name for NSM_ERROR_RESPONSE (e.g. "InvalidArgument"). */
  readonly nsmCode: string | undefined;

  constructor(code: NsmDeviceErrorCode, message: string, nsmCode?: string) {
    super(message);
    this.name = 'NsmDeviceError';
    this.code = code;
    this.nsmCode = nsmCode;
  }
}

export type NsmRequest =
  | { kind: 'Attestation'; userData: Uint8Array | null; nonce: Uint8Array | null; publicKey: Uint8Array | null }
  | { kind: 'GetRandom' }
  | { kind: 'DescribeNSM' }
  | { kind: 'DescribePCR'; index: number };

export type NsmResponse =
  | { kind: 'Attestation'; document: Uint8Array }
  | { kind: 'GetRandom'; random: Uint8Array }
  | { kind: 'DescribeNSM'; maxPcrs: number; moduleId: string; digest: string; lockedPcrs: number[] }
  | { kind: 'DescribePCR'; lock: boolean; data: Uint8Array };

const encoder = new Encoder({ useRecords: false, tagUint8Array: false, variableMapSize: true });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

/** CBOR bytes of a request, exactly as nsm-api's serde encoding (all three Attestation keys). */
export function encodeNsmRequest(req: NsmRequest): Uint8Array {
  let value: unknown;
  switch (req.kind) {
    case 'Attestation':
      // Rust's nsm-api always sends all three keys, null when absent.
      value = { Attestation: { user_data: req.userData, nonce: req.nonce, public_key: req.publicKey } };
      break;
    case 'GetRandom':
    case 'DescribeNSM':
      // Unit variants are a bare text string in serde's external tagging.
      value = req.kind;
      break;
    case 'DescribePCR':
      if (!Number.isInteger(req.index) || req.index < 0 || req.index > 0xffff) {
        throw new NsmDeviceError('NSM_REQUEST_TOO_LARGE', `PCR index ${req.index} is out of range`);
      }
      value = { DescribePCR: { index: req.index } };
      break;
  }
  const bytes = encoder.encode(value);
  if (bytes.length > NSM_MAX_REQUEST_BYTES) {
    throw new NsmDeviceError('NSM_REQUEST_TOO_LARGE', `NSM request of ${bytes.length} bytes exceeds ${NSM_MAX_REQUEST_BYTES}`);
  }
  return bytes;
}

function malformed(message: string): never {
  throw new NsmDeviceError('NSM_MALFORMED_RESPONSE', message);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function field<T>(o: Record<string, unknown>, key: string, check: (v: unknown) => v is T, what: string): T {
  const v = o[key];
  if (!check(v)) malformed(`NSM response field ${key} is not ${what}`);
  return v;
}

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isString = (v: unknown): v is string => typeof v === 'string';
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';

/** Parse the NSM's CBOR response; `{"Error": code}` becomes NSM_ERROR_RESPONSE. */
export function decodeNsmResponse(bytes: Uint8Array): NsmResponse {
  let value: unknown;
  try {
    value = decoder.decode(bytes);
  } catch (e) {
    malformed(`NSM response is not CBOR: ${(e as Error).message}`);
  }
  if (!isRecord(value)) malformed('NSM response is not a single-entry map');
  const keys = Object.keys(value);
  if (keys.length !== 1) malformed('NSM response is not a single-entry map');
  const kind = keys[0] as string;
  const inner = value[kind];
  if (kind === 'Error') {
    const code = typeof inner === 'string' ? inner : 'unknown';
    throw new NsmDeviceError('NSM_ERROR_RESPONSE', `NSM returned error ${code}`, code);
  }
  if (!isRecord(inner)) malformed(`NSM ${kind} response body is not a map`);
  switch (kind) {
    case 'Attestation':
      return { kind, document: field(inner, 'document', isBytes, 'a byte string') };
    case 'GetRandom':
      return { kind, random: field(inner, 'random', isBytes, 'a byte string') };
    case 'DescribePCR':
      return { kind, lock: field(inner, 'lock', isBool, 'a boolean'), data: field(inner, 'data', isBytes, 'a byte string') };
    case 'DescribeNSM': {
      const locked = inner.locked_pcrs;
      if (!Array.isArray(locked) || !locked.every(isUint)) malformed('NSM response field locked_pcrs is not a list of indexes');
      return {
        kind,
        maxPcrs: field(inner, 'max_pcrs', isUint, 'an unsigned integer'),
        moduleId: field(inner, 'module_id', isString, 'a string'),
        digest: field(inner, 'digest', isString, 'a string'),
        lockedPcrs: locked,
      };
    }
    default:
      return malformed(`unexpected NSM response kind '${kind.slice(0, 32)}'`);
  }
}

/** Check the response answers the request that was sent (a mismatch means a confused driver). */
function expectKind<K extends NsmResponse['kind']>(res: NsmResponse, kind: K): Extract<NsmResponse, { kind: K }> {
  if (res.kind !== kind) malformed(`NSM answered ${res.kind} to a ${kind} request`);
  return res as Extract<NsmResponse, { kind: K }>;
}

/** One request over a transport: encode, exchange, decode (NSM errors become NsmDeviceError). */
export function callNsm(transport: NsmTransport, req: NsmRequest): NsmResponse {
  return decodeNsmResponse(transport(encodeNsmRequest(req)));
}

export type NsmTransport = (request: Uint8Array) => Uint8Array;

/** Build the Nsm on top of any request → response transport (the ioctl, or a test double). */
export function nsmOverTransport(transport: NsmTransport, close: () => Promise<void> = async () => {}): NsmDevice {
  const call = (req: NsmRequest): NsmResponse => callNsm(transport, req);
  return {
    kind: 'hardware',
    async attest(req) {
      const res = call({ kind: 'Attestation', userData: req.userData ?? null, nonce: req.nonce ?? null, publicKey: req.publicKey ?? null });
      return expectKind(res, 'Attestation').document;
    },
    async describePcrs() {
      const { maxPcrs } = expectKind(call({ kind: 'DescribeNSM' }), 'DescribeNSM');
      const out = new Map<number, Uint8Array>();
      for (let i = 0; i < Math.min(maxPcrs, 64); i++) out.set(i, expectKind(call({ kind: 'DescribePCR', index: i }), 'DescribePCR').data);
      return out;
    },
    async getRandom(length) {
      if (!Number.isSafeInteger(length) || length < 0 || length > 1024 * 1024) throw new RangeError('getRandom length out of range');
      const parts: Uint8Array[] = [];
      let have = 0;
      while (have < length) {
        const { random } = expectKind(call({ kind: 'GetRandom' }), 'GetRandom');
        if (random.length === 0) malformed('NSM GetRandom returned no bytes');
        parts.push(random);
        have += random.length;
      }
      return Buffer.concat(parts).subarray(0, length);
    },
    close,
  };
}

/**
 * Open /dev/nsm and return the hardware Nsm. A missing device is a hard error: production
 * never falls back to a simulation.
 */
export async function openHardwareNsm(path = NSM_DEVICE_PATH): Promise<NsmDevice> {
  const { transport, close } = await openNsmTransport(path);
  return nsmOverTransport(transport, close);
}

/**
 * The raw ioctl transport on /dev/nsm (request bytes → response bytes). openHardwareNsm is
 * built on it; the boot test's guest probe uses it directly to provoke NSM error answers.
 */
export async function openNsmTransport(path = NSM_DEVICE_PATH): Promise<{ transport: NsmTransport; close: () => Promise<void> }> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, fsConstants.O_RDWR);
  } catch (e) {
    throw new NsmDeviceError('NSM_DEVICE_MISSING', `cannot open ${path}: ${(e as Error).message} (hardware NSM mode requires a Nitro Enclave)`);
  }
  const koffi = (await import('koffi')).default;
  const ioctl = koffi.load('libc.so.6').func('int ioctl(int fd, unsigned long request, ...)');
  // Stable native memory: the kernel reads and writes these addresses during the call.
  const reqPtr = koffi.alloc('uint8_t', NSM_MAX_REQUEST_BYTES);
  const resPtr = koffi.alloc('uint8_t', NSM_RESPONSE_BYTES);
  const msgPtr = koffi.alloc('uint64_t', 4);
  const reqView = new Uint8Array(koffi.view(reqPtr, NSM_MAX_REQUEST_BYTES));
  const resView = new Uint8Array(koffi.view(resPtr, NSM_RESPONSE_BYTES));
  const msg = new DataView(koffi.view(msgPtr, 32));
  const fd = handle.fd;
  const transport = (request: Uint8Array): Uint8Array => {
    // The request buffer is NSM_MAX_REQUEST_BYTES long: never hand the kernel a longer length.
    if (request.length > NSM_MAX_REQUEST_BYTES) {
      throw new NsmDeviceError('NSM_REQUEST_TOO_LARGE', `NSM request of ${request.length} bytes exceeds ${NSM_MAX_REQUEST_BYTES}`);
    }
    reqView.set(request);
    msg.setBigUint64(0, koffi.address(reqPtr), true);
    msg.setBigUint64(8, BigInt(request.length), true);
    msg.setBigUint64(16, koffi.address(resPtr), true);
    msg.setBigUint64(24, BigInt(NSM_RESPONSE_BYTES), true);
    const rc = ioctl(fd, NSM_IOCTL_REQUEST, 'void *', msgPtr) as number;
    if (rc < 0) throw new NsmDeviceError('NSM_IOCTL_FAILED', `ioctl on ${path} failed (errno ${koffi.errno()})`);
    const len = Number(msg.getBigUint64(24, true));
    return Uint8Array.from(resView.subarray(0, Math.min(len, NSM_RESPONSE_BYTES)));
  };
  const close = async (): Promise<void> => {
    await handle.close();
    koffi.free(reqPtr);
    koffi.free(resPtr);
    koffi.free(msgPtr);
  };
  return { transport, close };
}
