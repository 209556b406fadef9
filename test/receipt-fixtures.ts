// Receipts made the way the enclave makes them (builders from verifier/receipt.ts, documents
// from the simulated issuer), with hooks to break exactly one thing for refusal tests.
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createTestCa, type IssueSpec, type TestCa } from '../simulator/attestation-issuer.ts';
import { parseBuildManifest, type BuildManifest } from '../verifier/build-manifest.ts';
import { signDsseEnvelope, type DsseEnvelope } from '../verifier/dsse.ts';
import { assembleReceipt, receiptPublicKey, receiptUserData, signReceiptStatement } from '../verifier/receipt.ts';
import { buildReceiptStatement, type ReceiptPredicateInput } from '../verifier/statement.ts';
import { NO_PACK_OPTIONS, sampleReceiptAuthorization } from '../verifier/test-authorization.ts';

export function hex48(fill: number): string {
  return Buffer.alloc(48, fill).toString('hex');
}

export function sampleManifest(pcrFill = 0x10): BuildManifest {
  return parseBuildManifest(
    JSON.stringify({
      schema: 'attested-pack/build-manifest/v1',
      project: { name: 'attested-pack', version: '0.1.0', sourceCommit: 'a'.repeat(40), sourceDirty: false },
      blobSet: { kind: 'development', description: 'test blobs' },
      sourceDateEpoch: 1_700_000_000,
      inputs: [{ name: 'enclave-bundle', source: 'build/enclave.mjs', sha384: hex48(0x01), size: 1234 }],
      eif: { file: 'enclave.eif', sha384: hex48(0x02), size: 99999 },
      pcrs: { '0': hex48(pcrFill), '1': hex48(pcrFill + 1), '2': hex48(pcrFill + 2) },
      trustPolicy: { sha384: '7'.repeat(96), development: false, path: '/app/trust-policy.json' },
    }),
  );
}

export function manifestPcrMap(manifest: BuildManifest): Map<number, Uint8Array> {
  return new Map([
    [0, Buffer.from(manifest.pcrs['0'], 'hex')],
    [1, Buffer.from(manifest.pcrs['1'], 'hex')],
    [2, Buffer.from(manifest.pcrs['2'], 'hex')],
  ]);
}

export const ARTIFACT = new TextEncoder().encode(
  `${JSON.stringify({ version: 1, identity: 'payments-api', environment: 'production', ciphertext: 'AAAA' }, null, 2)}\n`,
);

export function sampleInput(artifact: Uint8Array = ARTIFACT): ReceiptPredicateInput {
  return {
    artifactName: 'payments-api/production.json',
    authorization: sampleReceiptAuthorization('c'.repeat(40)),
    source: {
      repository: 'example/secrets',
      commit: 'c'.repeat(40),
      objectFormat: 'sha1',
      clefYaml: 'd'.repeat(40),
      cells: [
        { namespace: 'database', environment: 'production', path: 'secrets/database/production.enc.yaml', blob: 'e'.repeat(40) },
        { namespace: 'payments', environment: 'production', path: 'secrets/payments/production.enc.yaml', blob: 'f'.repeat(40) },
      ],
    },
    pack: {
      identity: 'payments-api',
      environment: 'production',
      namespaces: ['database', 'payments'],
      revision: '1795402800123-1a2b3c4d',
      packedAt: '2026-11-23T10:00:00.123Z',
      options: { ...NO_PACK_OPTIONS },
    },
    kms: {
      sopsDecryptKeys: ['arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'],
      envelopeKey: 'arn:aws:kms:eu-west-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321',
      signingKey: null,
      calls: [
        { operation: 'Decrypt', keyArn: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab', requestId: 'b4a65126-30d5-4b28-98b9-9153da559963' },
        { operation: 'Encrypt', keyArn: 'arn:aws:kms:eu-west-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321', requestId: 'e0eb83e3-63bc-11e4-bc2b-4198b6150d5c' },
      ],
    },
    artifactSha256: createHash('sha256').update(artifact).digest('hex'),
    builderVersion: '0.1.0',
  };
}

export function newSigningKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
}

export interface ReceiptParts {
  receipt: Uint8Array;
  envelope: DsseEnvelope;
  document: Uint8Array;
  key: KeyObject;
  nonce: Uint8Array;
}

export interface MakeReceiptOptions {
  manifest?: BuildManifest;
  input?: ReceiptPredicateInput;
  /** Sign these payload bytes instead of the built statement (malformed-statement tests). */
  rawPayload?: Uint8Array;
  /** Key that signs the DSSE envelope (default: the attested key). */
  signWith?: KeyObject;
  /** Override fields of the attestation request / document. */
  issue?: Partial<IssueSpec>;
}

let sharedCa: Promise<TestCa> | undefined;
/** One simulated CA per test file is enough and keeps tests fast. */
export function testCa(): Promise<TestCa> {
  sharedCa ??= createTestCa();
  return sharedCa;
}

export async function makeReceipt(opts: MakeReceiptOptions = {}): Promise<ReceiptParts> {
  const ca = await testCa();
  const manifest = opts.manifest ?? sampleManifest();
  const key = newSigningKey();
  const nonce = new Uint8Array(randomBytes(32));
  let envelope: DsseEnvelope;
  if (opts.rawPayload !== undefined) {
    envelope = signDsseEnvelope('application/vnd.in-toto+json', opts.rawPayload, key);
  } else {
    envelope = signReceiptStatement(buildReceiptStatement(opts.input ?? sampleInput()), key);
  }
  if (opts.signWith !== undefined) {
    // Same payload and keyid, signature from another key: what a forger without K could do.
    const forged = signDsseEnvelope(envelope.payloadType, Buffer.from(envelope.payload, 'base64'), opts.signWith);
    envelope = { ...envelope, signatures: [{ keyid: envelope.signatures[0]!.keyid, sig: forged.signatures[0]!.sig }] };
  }
  const document = await ca.issue({
    pcrs: manifestPcrMap(manifest),
    publicKey: receiptPublicKey(key),
    userData: receiptUserData(envelope),
    nonce,
    indefiniteLengthMap: true,
    ...opts.issue,
  });
  return { receipt: assembleReceipt(envelope, document), envelope, document, key, nonce };
}

/** Edit a receipt's JSON and re-serialise it. */
export function editReceipt(receipt: Uint8Array, edit: (json: Record<string, unknown>) => void): Uint8Array {
  const json = JSON.parse(new TextDecoder().decode(receipt)) as Record<string, unknown>;
  edit(json);
  return new TextEncoder().encode(JSON.stringify(json, null, 2));
}
