// A stand-in for the AWS Nitro attestation PKI: a P-384 root → intermediate → leaf chain
// labelled SIMULATED, and real COSE_Sign1 attestation documents laid out byte for byte like
// NSM output (aws-nitro-enclaves-nsm-api `AttestationDoc`, key order as the NSM emits it).
// Documents verify only when this CA's root is passed to the verifier explicitly; the
// default trust anchor is the AWS Nitro root G1, which this CA can never chain to.
// @peculiar/x509 (through tsyringe) needs the Reflect metadata API before it loads.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { Encoder } from 'cbor-x';
import { coseSign1SigStructure, instanceIdPcr4, pcrExtend } from '../verifier/index.ts';

/** What the root's subject CN always contains, so verifiers can label the trust as simulated. */
export const SIMULATED_LABEL = 'SIMULATED';
export const DEFAULT_ROOT_COMMON_NAME = `attested-pack ${SIMULATED_LABEL} Nitro root`;
/** AWS leaf certificates live about three hours (NITRO-FACTS.md). */
export const DEFAULT_LEAF_LIFETIME_MS = 3 * 60 * 60 * 1000;
export const DEFAULT_MODULE_ID = 'i-0a1b2c3d4e5f60718-enc0a1b2c3d4e5f6071';

const DAY_MS = 24 * 60 * 60 * 1000;
const PCR_LENGTH = 48;
const ENCLAVE_PCR_COUNT = 16;
/** NitroTPM documents carry the 24 TPM PCRs under `nitrotpm_pcrs`. */
const NITROTPM_PCR_COUNT = 24;
/** Protected header {1: -35}: alg ES384. */
const PROTECTED_ES384 = Uint8Array.of(0xa1, 0x01, 0x38, 0x22);
const COSE_SIGN1_TAG = 18;

export interface ValidityWindow {
  notBefore: Date;
  notAfter: Date;
}

export interface TestCaOptions {
  /** Clock (ms since epoch) for default validity windows and document timestamps. */
  now?: () => number;
  /** Must contain "SIMULATED" (refused otherwise, so no simulated root can pass as real). */
  rootCommonName?: string;
  /** Default: from one day before now for 30 years. */
  rootValidity?: ValidityWindow;
  /** Default: from one day before now for 30 days (AWS regional intermediates live weeks). */
  intermediateValidity?: ValidityWindow;
  /** Leaf lifetime from its notBefore (the document time); default 3 hours. */
  leafLifetimeMs?: number;
  /** Region word used in subject names, as AWS puts one there; default "sim-1". */
  region?: string;
  /**
   * Keep the root and intermediate (certificates and keys) in this directory: reuse them
   * when present, write them when not. Several simulated enclaves (say, a good image and a
   * tampered one) then chain to the one root a KMS emulator trusts.
   */
  stateDir?: string;
}

const CA_STATE_FILE = 'simulated-ca.json';

interface CaStateFile {
  schema: 'attested-pack/simulated-ca/v1';
  root: { certPem: string; keyPkcs8: string };
  intermediate: { certPem: string; keyPkcs8: string };
}

async function exportSigner(s: Signer): Promise<{ certPem: string; keyPkcs8: string }> {
  return { certPem: s.cert.toString('pem'), keyPkcs8: Buffer.from(await subtle.exportKey('pkcs8', s.keys.privateKey)).toString('base64') };
}

async function importSigner(v: { certPem: string; keyPkcs8: string }): Promise<Signer> {
  const cert = new x509.X509Certificate(v.certPem);
  const privateKey = await subtle.importKey('pkcs8', Buffer.from(v.keyPkcs8, 'base64'), EC_P384, true, ['sign']);
  const publicKey = await cert.publicKey.export(EC_P384, ['verify'], x509Crypto);
  return { cert, keys: { privateKey, publicKey } };
}

/** The saved root and intermediate of a stateDir, or undefined when there are none yet. */
async function loadCaState(dir: string): Promise<{ root: Signer; intermediate: Signer } | undefined> {
  const file = join(dir, CA_STATE_FILE);
  if (!existsSync(file)) return undefined;
  let state: CaStateFile;
  try {
    state = JSON.parse(readFileSync(file, 'utf8')) as CaStateFile;
    if (state.schema !== 'attested-pack/simulated-ca/v1') throw new Error(`unknown schema ${String(state.schema)}`);
    return { root: await importSigner(state.root), intermediate: await importSigner(state.intermediate) };
  } catch (e) {
    // Never silently replace a CA others may already trust.
    throw new Error(`${file} is not a usable simulated CA: ${(e as Error).message}`);
  }
}

async function saveCaState(dir: string, root: Signer, intermediate: Signer): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const state: CaStateFile = { schema: 'attested-pack/simulated-ca/v1', root: await exportSigner(root), intermediate: await exportSigner(intermediate) };
  writeFileSync(join(dir, CA_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

export interface IssueSpec {
  /** PCRs to set; the other indexes 0..15 are 48 zero bytes, PCR4 the instance-id extend. */
  pcrs: Map<number, Uint8Array>;
  /** Default DEFAULT_MODULE_ID ("i-…-enc…", as on real enclaves). */
  moduleId?: string;
  /** Document timestamp, ms since epoch; default the CA's clock. */
  timestamp?: number;
  publicKey?: Uint8Array | null;
  userData?: Uint8Array | null;
  nonce?: Uint8Array | null;
  /** Encode the payload map with indefinite length, as NSM does since about 2025-08. */
  indefiniteLengthMap?: boolean;
  /** Wrap the COSE_Sign1 in tag 18 (real NSM output is untagged). */
  tagged?: boolean;
  /** A debug-mode enclave: PCR0, 1, 2 and 8 forced to zero whatever `pcrs` says. */
  debug?: boolean;
  /** 'nitrotpm' makes a NitroTPM-shaped document (`nitrotpm_pcrs`, no `pcrs`). */
  kind?: 'enclave' | 'nitrotpm';
  /** Use a fresh leaf with exactly this validity (e.g. expired) instead of the cached one. */
  leafValidity?: ValidityWindow;
}

export interface TestCa {
  rootDer: Uint8Array;
  rootPem: string;
  intermediateDer: Uint8Array;
  intermediatePem: string;
  /** Issue one COSE_Sign1 attestation document. */
  issue(spec: IssueSpec): Promise<Uint8Array>;
  /** Leaf certificate (DER) that signed the last issued document. */
  lastLeafDer(): Uint8Array | undefined;
}

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
// @peculiar/x509 is typed against the DOM `Crypto`; node's webcrypto implements that API.
// Passing it per call (not x509.cryptoProvider.set) leaves the library's global alone.
const x509Crypto = webcrypto as never;
const subtle = webcrypto.subtle;
const EC_P384 = { name: 'ECDSA', namedCurve: 'P-384' } as const;
const ES384 = { name: 'ECDSA', hash: 'SHA-384' } as const;

const cbor = new Encoder({ useRecords: false, mapsAsObjects: false, tagUint8Array: false, variableMapSize: true });

/** PCR4 on real enclaves = SHA-384(48 zero bytes ‖ instance-id ASCII), the raw string. */
export function instanceIdPcr(moduleId: string): Uint8Array {
  // The verifier's recipe; a module id without "-enc" (tests only) is its own instance id.
  return moduleId.indexOf('-enc') > 0 ? instanceIdPcr4(moduleId) : pcrExtend(new Uint8Array(PCR_LENGTH), new TextEncoder().encode(moduleId));
}

function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive INTEGER
  bytes[0] = (bytes[0] ?? 0) | 0x01; // and no leading zero byte
  return Buffer.from(bytes).toString('hex');
}

/** X.509 times have second precision; a window must start on or before the moment it covers. */
function floorToSecond(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

async function newKeyPair(): Promise<CryptoKeyPair> {
  return subtle.generateKey(EC_P384, true, ['sign', 'verify']);
}

interface Signer {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}

async function caExtensions(keys: CryptoKeyPair, issuerKey: CryptoKey, pathLength: number | undefined): Promise<x509.Extension[]> {
  return [
    new x509.BasicConstraintsExtension(true, pathLength, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
      true,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, x509Crypto),
    await x509.AuthorityKeyIdentifierExtension.create(issuerKey, false, x509Crypto),
  ];
}

function subjectName(commonName: string): string {
  // Same attribute set as AWS's chain, with the organisation saying what it really is.
  return `C=US, O=attested-pack ${SIMULATED_LABEL}, OU=simulator, CN=${commonName}`;
}

function hasLength(v: Uint8Array | null | undefined, max: number, what: string): void {
  if (v != null && v.length > max) throw new RangeError(`${what} is longer than ${max} bytes (NSM limit)`);
}

/** Encode a CBOR map from ordered entries, definite or indefinite length, values by cbor-x. */
function encodeMap(entries: Array<[string, unknown]>, indefinite: boolean): Uint8Array {
  const parts: Uint8Array[] = [];
  if (indefinite) parts.push(Uint8Array.of(0xbf));
  else if (entries.length < 24) parts.push(Uint8Array.of(0xa0 + entries.length));
  else parts.push(Uint8Array.of(0xb8, entries.length));
  for (const [k, v] of entries) parts.push(cbor.encode(k), cbor.encode(v));
  if (indefinite) parts.push(Uint8Array.of(0xff));
  return new Uint8Array(Buffer.concat(parts));
}

export async function createTestCa(opts: TestCaOptions = {}): Promise<TestCa> {
  const now = opts.now ?? Date.now;
  const rootCn = opts.rootCommonName ?? DEFAULT_ROOT_COMMON_NAME;
  if (!rootCn.includes(SIMULATED_LABEL)) throw new Error(`the simulated root's common name must contain "${SIMULATED_LABEL}"`);
  const region = opts.region ?? 'sim-1';
  const leafLifetimeMs = opts.leafLifetimeMs ?? DEFAULT_LEAF_LIFETIME_MS;
  const t0 = now();

  const saved = opts.stateDir === undefined ? undefined : await loadCaState(opts.stateDir);
  let root: Signer;
  let intermediate: Signer;
  if (saved !== undefined) {
    ({ root, intermediate } = saved);
  } else {
    const rootKeys = await newKeyPair();
    const rootValidity = opts.rootValidity ?? { notBefore: floorToSecond(t0 - DAY_MS), notAfter: floorToSecond(t0 + 30 * 365 * DAY_MS) };
    const rootName = subjectName(rootCn);
    root = {
      keys: rootKeys,
      cert: await x509.X509CertificateGenerator.create(
        {
          serialNumber: randomSerial(),
          subject: rootName,
          issuer: rootName,
          notBefore: rootValidity.notBefore,
          notAfter: rootValidity.notAfter,
          signingAlgorithm: ES384,
          publicKey: rootKeys.publicKey,
          signingKey: rootKeys.privateKey,
          extensions: await caExtensions(rootKeys, rootKeys.publicKey, undefined),
        },
        x509Crypto,
      ),
    };

    const interKeys = await newKeyPair();
    const interValidity = opts.intermediateValidity ?? { notBefore: floorToSecond(t0 - DAY_MS), notAfter: floorToSecond(t0 + 30 * DAY_MS) };
    intermediate = {
      keys: interKeys,
      cert: await x509.X509CertificateGenerator.create(
        {
          serialNumber: randomSerial(),
          subject: subjectName(`${region}.simulated.nitro-enclaves`),
          issuer: root.cert.subject,
          notBefore: interValidity.notBefore,
          notAfter: interValidity.notAfter,
          signingAlgorithm: ES384,
          publicKey: interKeys.publicKey,
          signingKey: rootKeys.privateKey,
          extensions: await caExtensions(interKeys, rootKeys.publicKey, 0),
        },
        x509Crypto,
      ),
    };
    if (opts.stateDir !== undefined) await saveCaState(opts.stateDir, root, intermediate);
  }
  const interKeys = intermediate.keys;

  async function makeLeaf(moduleId: string, validity: ValidityWindow): Promise<Signer> {
    const keys = await newKeyPair();
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: randomSerial(),
        subject: subjectName(`${moduleId}.${region}.simulated`),
        issuer: intermediate.cert.subject,
        notBefore: validity.notBefore,
        notAfter: validity.notAfter,
        signingAlgorithm: ES384,
        publicKey: keys.publicKey,
        signingKey: interKeys.privateKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          // AWS leaves: digitalSignature + nonRepudiation, not critical.
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, false),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, x509Crypto),
          await x509.AuthorityKeyIdentifierExtension.create(interKeys.publicKey, false, x509Crypto),
        ],
      },
      x509Crypto,
    );
    return { cert, keys };
  }

  // Like an enclave, one leaf serves every document of a module while it is valid.
  const leaves = new Map<string, Signer>();
  let lastLeaf: Uint8Array | undefined;

  async function leafFor(moduleId: string, timestamp: number, explicit: ValidityWindow | undefined): Promise<Signer> {
    if (explicit !== undefined) return makeLeaf(moduleId, explicit);
    const cached = leaves.get(moduleId);
    if (cached !== undefined && cached.cert.notBefore.getTime() <= timestamp && timestamp < cached.cert.notAfter.getTime()) {
      return cached;
    }
    const notBefore = floorToSecond(timestamp);
    const leaf = await makeLeaf(moduleId, { notBefore, notAfter: new Date(notBefore.getTime() + leafLifetimeMs) });
    leaves.set(moduleId, leaf);
    return leaf;
  }

  const rootDer = new Uint8Array(root.cert.rawData);
  const intermediateDer = new Uint8Array(intermediate.cert.rawData);

  return {
    rootDer,
    rootPem: root.cert.toString('pem') + '\n',
    intermediateDer,
    intermediatePem: intermediate.cert.toString('pem') + '\n',
    lastLeafDer: () => lastLeaf,
    async issue(spec: IssueSpec): Promise<Uint8Array> {
      const moduleId = spec.moduleId ?? DEFAULT_MODULE_ID;
      const timestamp = spec.timestamp ?? now();
      if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new RangeError('timestamp must be a non-negative integer (ms)');
      hasLength(spec.publicKey, 1024, 'public_key');
      hasLength(spec.userData, 1024, 'user_data');
      hasLength(spec.nonce, 1024, 'nonce');
      const kind = spec.kind ?? 'enclave';
      const count = kind === 'nitrotpm' ? NITROTPM_PCR_COUNT : ENCLAVE_PCR_COUNT;

      const pcrs = new Map<number, Uint8Array>();
      for (let i = 0; i < count; i++) pcrs.set(i, new Uint8Array(PCR_LENGTH));
      pcrs.set(4, instanceIdPcr(moduleId));
      for (const [index, value] of spec.pcrs) {
        if (!Number.isInteger(index) || index < 0 || index >= 32) throw new RangeError(`PCR index ${index} is out of range`);
        if (value.length !== PCR_LENGTH) throw new RangeError(`PCR${index} must be ${PCR_LENGTH} bytes`);
        pcrs.set(index, value);
      }
      if (spec.debug === true) for (const i of [0, 1, 2, 8]) pcrs.set(i, new Uint8Array(PCR_LENGTH));
      const sortedPcrs = new Map([...pcrs].sort(([a], [b]) => a - b));

      const leaf = await leafFor(moduleId, timestamp, spec.leafValidity);
      lastLeaf = new Uint8Array(leaf.cert.rawData);
      const payload = encodeMap(
        [
          ['module_id', moduleId],
          ['digest', 'SHA384'],
          // BigInt keeps the timestamp a CBOR uint (major type 0) as NSM writes it.
          ['timestamp', BigInt(timestamp)],
          [kind === 'nitrotpm' ? 'nitrotpm_pcrs' : 'pcrs', sortedPcrs],
          ['certificate', lastLeaf],
          ['cabundle', [rootDer, intermediateDer]],
          ['public_key', spec.publicKey ?? null],
          ['user_data', spec.userData ?? null],
          ['nonce', spec.nonce ?? null],
        ],
        spec.indefiniteLengthMap === true,
      );
      const toSign = coseSign1SigStructure(PROTECTED_ES384, payload);
      const signature = new Uint8Array(await subtle.sign(ES384, leaf.keys.privateKey, toSign));
      // COSE_Sign1 = [protected bstr, unprotected {}, payload bstr, signature bstr].
      const body = Buffer.concat([
        Uint8Array.of(0x84),
        cbor.encode(PROTECTED_ES384),
        Uint8Array.of(0xa0),
        cbor.encode(payload),
        cbor.encode(signature),
      ]);
      return new Uint8Array(spec.tagged === true ? Buffer.concat([Uint8Array.of(0xc0 + COSE_SIGN1_TAG), body]) : body);
    },
  };
}
