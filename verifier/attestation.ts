// The NSM attestation document payload (aws-nitro-enclaves-nsm-api, "attestation document
// specification"): every field's type, size and count is checked here, before any crypto,
// the way hf/nitrite does it. Nothing is coerced: a wrong type is a refusal.
import { decodeCbor, type CborValue } from './cbor.ts';
import { parseCoseSign1 } from './cose.ts';
import { fail, isVerificationError } from './errors.ts';
import type { AttestationDocument } from './types.ts';

/** Whole COSE_Sign1 input. Real documents are ≤ ~7.5 KiB (three 1 KiB optional fields). */
export const MAX_DOCUMENT_BYTES = 16 * 1024;
/** AWS spec: public_key, user_data and nonce are each at most 1024 bytes. */
export const MAX_OPTIONAL_FIELD_BYTES = 1024;
/** AWS spec: PCR indexes 0..31. */
export const MAX_PCR_INDEX = 31;
export const PCR_VALUE_SIZES: readonly number[] = [32, 48, 64];
/** Real bundles have 4 entries (root, regional, zonal, instance); 8 leaves room, not abuse. */
export const MAX_CABUNDLE_ENTRIES = 8;
/** A certificate larger than this is not one NSM issues (real ones are ~500–700 bytes). */
export const MAX_CERTIFICATE_BYTES = 4096;
export const MAX_MODULE_ID_LENGTH = 256;

/** The result of parsing, before any cryptographic check. */
export interface ParsedAttestation {
  document: AttestationDocument;
  /** Protected header bytes as signed. */
  protectedHeader: Uint8Array;
  /** Payload bytes as signed (not re-encoded). */
  payload: Uint8Array;
  signature: Uint8Array;
  tagged: boolean;
}

const REQUIRED_KEYS = ['module_id', 'digest', 'timestamp', 'pcrs', 'certificate', 'cabundle'] as const;
const OPTIONAL_KEYS = ['public_key', 'user_data', 'nonce'] as const;
const KNOWN_KEYS: ReadonlySet<string> = new Set<string>([...REQUIRED_KEYS, ...OPTIONAL_KEYS]);

/**
 * Parse a COSE_Sign1 attestation document strictly; no signature or chain check.
 * The input is copied first, so later changes to the caller's buffer change nothing here.
 */
export function parseAttestationDocument(bytes: Uint8Array): ParsedAttestation {
  checkDocumentInput(bytes);
  const own = new Uint8Array(bytes);
  const cose = parseCoseSign1(own);
  return {
    document: parseAttestationPayload(cose.payload),
    protectedHeader: cose.protectedHeader,
    payload: cose.payload,
    signature: cose.signature,
    tagged: cose.tagged,
  };
}

/** The input must be bytes and within MAX_DOCUMENT_BYTES (checked before any decoding). */
export function checkDocumentInput(bytes: unknown): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) fail('MALFORMED_CBOR', 'attestation document must be bytes');
  if (bytes.length > MAX_DOCUMENT_BYTES) {
    fail('INPUT_TOO_LARGE', `attestation document is ${bytes.length} bytes; the limit is ${MAX_DOCUMENT_BYTES}`);
  }
}

/** Parse and validate the payload map (the bytes inside the COSE payload bstr). */
export function parseAttestationPayload(payload: Uint8Array): AttestationDocument {
  let map: CborValue;
  try {
    map = decodeCbor(payload);
  } catch (e) {
    if (isVerificationError(e)) fail(e.code, `payload: ${e.message}`, e.detail);
    throw e;
  }
  if (!(map instanceof Map)) fail('MALFORMED_DOCUMENT', 'payload must be a CBOR map');
  for (const key of map.keys()) {
    if (typeof key !== 'string') fail('MALFORMED_DOCUMENT', `payload keys must be text, found ${String(key)}`);
  }
  // A NitroTPM document is signed by the same AWS root, so only its shape tells it apart.
  if (map.has('nitrotpm_pcrs')) {
    fail('NOT_ENCLAVE_DOCUMENT', "payload has 'nitrotpm_pcrs': this is a NitroTPM attestation, not a Nitro Enclave one");
  }
  for (const key of map.keys()) {
    // Unknown fields are refused rather than ignored: a new field may change what the
    // document means (as nitrotpm_pcrs did), so supporting it is a deliberate change.
    if (!KNOWN_KEYS.has(key as string)) fail('MALFORMED_DOCUMENT', `unknown payload field '${String(key)}'`);
  }
  for (const key of REQUIRED_KEYS) {
    if (!map.has(key)) fail('MALFORMED_DOCUMENT', `payload field '${key}' is missing`);
  }

  const moduleId = map.get('module_id');
  // Characters are Unicode code points, as everywhere in our formats (docs/receipt.md).
  if (typeof moduleId !== 'string' || moduleId.length === 0 || [...moduleId].length > MAX_MODULE_ID_LENGTH) {
    fail('MALFORMED_DOCUMENT', `module_id must be a non-empty text string of at most ${MAX_MODULE_ID_LENGTH} characters (code points)`);
  }
  if (map.get('digest') !== 'SHA384') fail('MALFORMED_DOCUMENT', 'digest must be "SHA384"');

  const timestamp = map.get('timestamp');
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp <= 0) {
    fail('MALFORMED_DOCUMENT', 'timestamp must be a positive unsigned integer (milliseconds since the Unix epoch)');
  }

  const pcrs = parsePcrs(map.get('pcrs'));
  const certificate = bytesField(map.get('certificate'), 'certificate', 1, MAX_CERTIFICATE_BYTES);

  const bundle = map.get('cabundle');
  if (!Array.isArray(bundle) || bundle.length === 0 || bundle.length > MAX_CABUNDLE_ENTRIES) {
    fail('MALFORMED_DOCUMENT', `cabundle must be an array of 1 to ${MAX_CABUNDLE_ENTRIES} certificates`);
  }
  const cabundle = bundle.map((c, i) => bytesField(c, `cabundle[${i}]`, 1, MAX_CERTIFICATE_BYTES));

  return {
    moduleId,
    digest: 'SHA384',
    timestamp,
    pcrs,
    certificate,
    cabundle,
    publicKey: optionalField(map, 'public_key'),
    userData: optionalField(map, 'user_data'),
    nonce: optionalField(map, 'nonce'),
  };
}

function parsePcrs(value: CborValue): Map<number, Uint8Array> {
  if (!(value instanceof Map)) fail('MALFORMED_DOCUMENT', 'pcrs must be a map');
  if (value.size === 0 || value.size > MAX_PCR_INDEX + 1) fail('MALFORMED_DOCUMENT', `pcrs must have 1 to ${MAX_PCR_INDEX + 1} entries`);
  const out = new Map<number, Uint8Array>();
  for (const [index, pcr] of value) {
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > MAX_PCR_INDEX) {
      fail('MALFORMED_DOCUMENT', `PCR index ${String(index)} is not an integer in 0..${MAX_PCR_INDEX}`);
    }
    if (!(pcr instanceof Uint8Array) || !PCR_VALUE_SIZES.includes(pcr.length)) {
      fail('MALFORMED_DOCUMENT', `PCR${index} must be a byte string of ${PCR_VALUE_SIZES.join(', ')} bytes`);
    }
    out.set(index, pcr);
  }
  // All PCRs of one document come from the same bank, so they have the same size.
  const sizes = new Set([...out.values()].map((v) => v.length));
  if (sizes.size !== 1) fail('MALFORMED_DOCUMENT', 'PCR values must all have the same length');
  return out;
}

function bytesField(value: CborValue, name: string, min: number, max: number): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length < min || value.length > max) {
    fail('MALFORMED_DOCUMENT', `${name} must be a byte string of ${min} to ${max} bytes`);
  }
  return value;
}

/** public_key / user_data / nonce: absent or null (→ null), or a bstr of ≤ 1024 bytes. */
function optionalField(map: Map<unknown, CborValue>, name: string): Uint8Array | null {
  if (!map.has(name)) return null;
  const value = map.get(name);
  if (value === null) return null;
  return bytesField(value, name, 0, MAX_OPTIONAL_FIELD_BYTES);
}
