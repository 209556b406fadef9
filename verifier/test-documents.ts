// TEST SUPPORT ONLY (imported by *.test.ts, never by the verifier itself): build
// certificate chains we control with @peculiar/x509 and sign NSM-shaped COSE_Sign1
// documents with them, so every refusal path of the verifier can be triggered on purpose.
// Deliberately independent of the simulator's issuer: the verifier's tests must not trust
// the code they are meant to check.
// @peculiar/x509 resolves its services through tsyringe, which needs a Reflect polyfill.
import 'reflect-metadata';
import { KeyObject, sign, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKeyPair = webcrypto.CryptoKeyPair;

// ---------- a tiny CBOR encoder with knobs for malformed output ----------

export class Tagged {
  readonly tag: number;
  readonly value: Encodable;
  constructor(tag: number, value: Encodable) {
    this.tag = tag;
    this.value = value;
  }
}

/** Bytes spliced into the output exactly as given. */
export class Raw {
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
}

/** A map encoded with indefinite length (0xbf … 0xff), as NSM does since 2025. */
export class IndefiniteMap {
  readonly entries: Array<[Encodable, Encodable]>;
  constructor(entries: Array<[Encodable, Encodable]>) {
    this.entries = entries;
  }
}

export type Encodable =
  | number
  | bigint
  | string
  | Uint8Array
  | boolean
  | null
  | undefined
  | Encodable[]
  | Map<Encodable, Encodable>
  | Tagged
  | Raw
  | IndefiniteMap;

function head(major: number, n: number): number[] {
  const m = major << 5;
  if (n < 24) return [m | n];
  if (n < 0x100) return [m | 24, n];
  if (n < 0x10000) return [m | 25, n >> 8, n & 0xff];
  if (n < 0x1_0000_0000) return [m | 26, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  const hi = Math.floor(n / 0x1_0000_0000);
  const lo = n >>> 0;
  return [m | 27, hi >>> 24, (hi >> 16) & 0xff, (hi >> 8) & 0xff, hi & 0xff, lo >>> 24, (lo >> 16) & 0xff, (lo >> 8) & 0xff, lo & 0xff];
}

export function encode(value: Encodable): Uint8Array {
  const out: number[] = [];
  const walk = (v: Encodable): void => {
    if (v instanceof Raw) out.push(...v.bytes);
    else if (v instanceof Uint8Array) out.push(...head(2, v.length), ...v);
    else if (typeof v === 'string') {
      const b = new TextEncoder().encode(v);
      out.push(...head(3, b.length), ...b);
    } else if (typeof v === 'number') {
      if (!Number.isInteger(v)) throw new Error('test encoder: integers only');
      if (v >= 0) out.push(...head(0, v));
      else out.push(...head(1, -1 - v));
    } else if (typeof v === 'bigint') {
      const neg = v < 0n;
      const n = neg ? -1n - v : v;
      const bytes = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(56 - 8 * i)) & 0xffn));
      out.push(((neg ? 1 : 0) << 5) | 27, ...bytes);
    } else if (v === false) out.push(0xf4);
    else if (v === true) out.push(0xf5);
    else if (v === null) out.push(0xf6);
    else if (v === undefined) out.push(0xf7);
    else if (Array.isArray(v)) {
      out.push(...head(4, v.length));
      v.forEach(walk);
    } else if (v instanceof Map) {
      out.push(...head(5, v.size));
      for (const [k, x] of v) {
        walk(k);
        walk(x);
      }
    } else if (v instanceof IndefiniteMap) {
      out.push(0xbf);
      for (const [k, x] of v.entries) {
        walk(k);
        walk(x);
      }
      out.push(0xff);
    } else if (v instanceof Tagged) {
      out.push(...head(6, v.tag));
      walk(v.value);
    } else {
      throw new Error(`test encoder: cannot encode ${typeof v}`);
    }
  };
  walk(value);
  return Uint8Array.from(out);
}

// ---------- certificate chains ----------

export interface CertSpec {
  name: string;
  notBefore?: Date;
  notAfter?: Date;
  /** basicConstraints; null = leave the extension out. */
  ca?: { isCa: boolean; pathLength?: number } | null;
  /** keyUsage flags (x509.KeyUsageFlags); null = leave the extension out. */
  keyUsage?: number | null;
  /** Extra extensions, e.g. an unknown critical one. */
  extensions?: x509.Extension[];
  /** Key curve for this certificate's own key. */
  curve?: 'P-256' | 'P-384' | 'P-521';
  /** Sign with this issuer name instead of the issuer's real subject. */
  issuerNameOverride?: string;
  /** Sign with another key than the issuer's (signature will not verify). */
  signWithWrongKey?: boolean;
}

export interface IssuedCert {
  der: Uint8Array;
  keys: CryptoKeyPair;
  privateKey: KeyObject;
  name: string;
}

export const DAY = 86_400_000;
/** A fixed instant the default test certificates are all valid at. */
export const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);

async function keyPair(curve: 'P-256' | 'P-384' | 'P-521'): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: curve }, true, ['sign', 'verify'])) as CryptoKeyPair;
}

const HASH_FOR: Record<string, string> = { 'P-256': 'SHA-256', 'P-384': 'SHA-384', 'P-521': 'SHA-512' };

export async function issue(spec: CertSpec, issuer: IssuedCert | null): Promise<IssuedCert> {
  const keys = await keyPair(spec.curve ?? 'P-384');
  const signer = issuer === null ? keys : issuer.keys;
  const signingKeys = spec.signWithWrongKey === true ? await keyPair('P-384') : signer;
  const curve = (signingKeys.privateKey.algorithm as webcrypto.EcKeyAlgorithm).namedCurve;
  const extensions: x509.Extension[] = [];
  if (spec.ca !== null) {
    const ca = spec.ca ?? { isCa: false };
    extensions.push(new x509.BasicConstraintsExtension(ca.isCa, ca.pathLength, true));
  }
  if (spec.keyUsage !== null && spec.keyUsage !== undefined) extensions.push(new x509.KeyUsagesExtension(spec.keyUsage, true));
  extensions.push(...(spec.extensions ?? []));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '01' + Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex'),
    subject: spec.name,
    issuer: spec.issuerNameOverride ?? (issuer === null ? spec.name : issuer.name),
    notBefore: spec.notBefore ?? new Date(T0 - 30 * DAY),
    notAfter: spec.notAfter ?? new Date(T0 + 30 * DAY),
    publicKey: keys.publicKey,
    signingKey: signingKeys.privateKey,
    signingAlgorithm: { name: 'ECDSA', hash: HASH_FOR[curve] ?? 'SHA-384' } as webcrypto.EcdsaParams,
    extensions,
  });
  return { der: new Uint8Array(cert.rawData), keys, privateKey: KeyObject.from(keys.privateKey), name: spec.name };
}

export const CA_USAGE = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature;
export const LEAF_USAGE = x509.KeyUsageFlags.digitalSignature;

export interface TestChain {
  root: IssuedCert;
  /** cabundle order: root first, then intermediates. */
  cabundle: IssuedCert[];
  leaf: IssuedCert;
}

export interface ChainSpec {
  root?: Partial<CertSpec>;
  intermediates?: Array<Partial<CertSpec>>;
  leaf?: Partial<CertSpec>;
}

/** Root → 2 intermediates → leaf, AWS-shaped (pathlen 1, 0), unless overridden. */
export async function makeChain(spec: ChainSpec = {}): Promise<TestChain> {
  const root = await issue({ name: 'CN=Test Nitro Root SIMULATED', ca: { isCa: true }, keyUsage: CA_USAGE, ...spec.root }, null);
  const intermediateSpecs = spec.intermediates ?? [{}, {}];
  const cabundle: IssuedCert[] = [root];
  let parent = root;
  for (const [i, s] of intermediateSpecs.entries()) {
    const below = intermediateSpecs.length - 1 - i;
    const cert = await issue({ name: `CN=Test Intermediate ${i + 1}`, ca: { isCa: true, pathLength: below }, keyUsage: CA_USAGE, ...s }, parent);
    cabundle.push(cert);
    parent = cert;
  }
  const leaf = await issue({ name: 'CN=i-0123456789abcdef0-enc0123456789abcdef.test', ca: { isCa: false }, keyUsage: LEAF_USAGE, ...spec.leaf }, parent);
  return { root, cabundle, leaf };
}

// ---------- documents ----------

export const MODULE_ID = 'i-0123456789abcdef0-enc0123456789abcdef';

export interface DocumentSpec {
  /** Payload entries to replace (value) or remove (undefined via `remove`). */
  set?: Record<string, Encodable>;
  remove?: string[];
  /** Encode the payload map with indefinite length. */
  indefinite?: boolean;
  /** Replace the whole payload bytes. */
  payloadBytes?: Uint8Array;
  protectedHeader?: Uint8Array;
  unprotected?: Encodable;
  /** Replace the signature bytes after signing. */
  signature?: Uint8Array;
  tagged?: boolean;
  /** Sign with this key instead of the leaf's. */
  signingKey?: KeyObject;
}

export function defaultPcrs(): Map<Encodable, Encodable> {
  const pcrs = new Map<Encodable, Encodable>();
  for (let i = 0; i < 16; i++) pcrs.set(i, new Uint8Array(48).fill(i <= 2 ? 0x10 + i : 0));
  return pcrs;
}

export function payloadEntries(chain: TestChain, timestamp = T0): Array<[string, Encodable]> {
  return [
    ['module_id', MODULE_ID],
    ['digest', 'SHA384'],
    ['timestamp', timestamp],
    ['pcrs', defaultPcrs()],
    ['certificate', chain.leaf.der],
    ['cabundle', chain.cabundle.map((c) => c.der)],
    ['public_key', null],
    ['user_data', null],
    ['nonce', null],
  ];
}

export const PROTECTED_ES384 = Uint8Array.of(0xa1, 0x01, 0x38, 0x22);

export function sigStructure(protectedHeader: Uint8Array, payload: Uint8Array): Uint8Array {
  return encode(['Signature1', protectedHeader, new Uint8Array(0), payload]);
}

/** A COSE_Sign1 attestation document signed by the chain's leaf (or as told otherwise). */
export function makeDocument(chain: TestChain, spec: DocumentSpec = {}): Uint8Array {
  let payload = spec.payloadBytes;
  if (payload === undefined) {
    const entries = payloadEntries(chain)
      .filter(([k]) => !(spec.remove ?? []).includes(k))
      .map(([k, v]): [string, Encodable] => [k, spec.set !== undefined && k in spec.set ? (spec.set[k] as Encodable) : v]);
    for (const [k, v] of Object.entries(spec.set ?? {})) if (!entries.some(([e]) => e === k)) entries.push([k, v]);
    payload = encode(spec.indefinite === true ? new IndefiniteMap(entries) : new Map<Encodable, Encodable>(entries));
  }
  const protectedHeader = spec.protectedHeader ?? PROTECTED_ES384;
  const signature = spec.signature
    ?? new Uint8Array(sign('sha384', sigStructure(protectedHeader, payload), { key: spec.signingKey ?? chain.leaf.privateKey, dsaEncoding: 'ieee-p1363' }));
  const cose: Encodable = [protectedHeader, spec.unprotected ?? new Map(), payload, signature];
  return encode(spec.tagged === true ? new Tagged(18, cose) : cose);
}

/** @peculiar/x509, loaded after its Reflect polyfill (import it from here in tests). */
export { x509 };
