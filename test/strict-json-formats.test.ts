// Every JSON format we read refuses what two readers could read two ways: a duplicate
// member name (JSON.parse keeps the last, others keep the first) and a leading BOM.
// One test per format; the signed-statement case is genuinely signed by the attested key,
// so the duplicate is the only thing wrong with it.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import type { TestCa } from '../simulator/attestation-issuer.ts';
import { isVerificationError, type VerificationError } from '../verifier/errors.ts';
import { parseBuildManifest, serializeBuildManifest } from '../verifier/build-manifest.ts';
import { verifyReceipt, type VerifyReceiptOptions } from '../verifier/receipt.ts';
import { buildReceiptStatement, serializeStatement } from '../verifier/statement.ts';
import type { CheckResult } from '../verifier/types.ts';
import { parseInputsLock } from '../reproducible/lock.ts';
import { isBuildError } from '../build/errors.ts';
import { buildEifMetadata, parseEifMetadata } from '../build/metadata.ts';
import {
  clefSignaturePayload, ed25519Signer, packArtifact, parseArtifactJson, readArtifact, serializeArtifact, type PackedArtifact,
} from '../enclave/clef/index.ts';
import { makeReceipt, sampleInput, sampleManifest, testCa } from './receipt-fixtures.ts';
import { newAgeKey } from './sops-support.ts';

const BOM = '\ufeff';
let ca: TestCa;
beforeAll(async () => {
  ca = await testCa();
});

function opts(extra: Partial<VerifyReceiptOptions> = {}): VerifyReceiptOptions {
  return { manifest: sampleManifest(), root: ca.rootDer, ...extra };
}

function refusal(fn: () => unknown): VerificationError {
  try {
    fn();
  } catch (e) {
    if (isVerificationError(e)) return e;
    throw e;
  }
  throw new Error('expected a VerificationError, but it was accepted');
}

function lastCheck(e: VerificationError): string | undefined {
  return (e.detail?.checks as CheckResult[] | undefined)?.at(-1)?.name;
}

/** Insert `"name": value,` right after the first `{` following `after` (a text edit, not JSON). */
function duplicate(json: string, after: string, member: string): string {
  const at = json.indexOf('{', json.indexOf(after)) + 1;
  expect(at).toBeGreaterThan(0);
  return `${json.slice(0, at)}${member},${json.slice(at)}`;
}

describe('receipt file', () => {
  it('"schema" twice → RECEIPT_MALFORMED at receipt-structure', async () => {
    const { receipt } = await makeReceipt();
    const text = new TextDecoder().decode(receipt);
    const twice = duplicate(text, '', '"schema": "attested-pack/receipt/v0"');
    const e = refusal(() => verifyReceipt(new TextEncoder().encode(twice), opts()));
    expect(e.code).toBe('RECEIPT_MALFORMED');
    expect(e.message).toMatch(/duplicate member name "schema"/);
    expect(lastCheck(e)).toBe('receipt-structure');
  });

  it('DSSE "payload" twice → RECEIPT_MALFORMED at receipt-structure', async () => {
    const { receipt } = await makeReceipt();
    const other = await makeReceipt();
    const otherPayload = JSON.parse(new TextDecoder().decode(other.receipt)).dsse.payload as string;
    const twice = duplicate(new TextDecoder().decode(receipt), '"dsse"', `"payload": ${JSON.stringify(otherPayload)}`);
    const e = refusal(() => verifyReceipt(new TextEncoder().encode(twice), opts()));
    expect(e.code).toBe('RECEIPT_MALFORMED');
    expect(e.message).toMatch(/duplicate member name "payload"/);
  });

  it('a leading BOM → RECEIPT_MALFORMED', async () => {
    const { receipt } = await makeReceipt();
    const e = refusal(() => verifyReceipt(new TextEncoder().encode(BOM + new TextDecoder().decode(receipt)), opts()));
    expect(e.code).toBe('RECEIPT_MALFORMED');
    expect(e.message).toMatch(/byte order mark/);
  });
});

describe('signed statement', () => {
  const statementText = (): string => new TextDecoder().decode(serializeStatement(buildReceiptStatement(sampleInput())));

  it('"commit" twice in a genuinely signed statement → STATEMENT_MALFORMED after the signature verified', async () => {
    const text = duplicate(statementText(), '"source"', `"commit":"${'9'.repeat(40)}"`);
    expect(text.match(/"commit"/g)?.length).toBe(2);
    const { receipt } = await makeReceipt({ rawPayload: new TextEncoder().encode(text) });
    const e = refusal(() => verifyReceipt(receipt, opts()));
    expect(e.code).toBe('STATEMENT_MALFORMED');
    expect(e.message).toMatch(/duplicate member name "commit"/);
    const checks = e.detail?.checks as CheckResult[];
    expect(checks.find((c) => c.name === 'dsse-signature')?.status).toBe('pass');
    expect(checks.at(-1)?.name).toBe('statement');
  });

  it('a BOM before the signed statement → STATEMENT_MALFORMED', async () => {
    const { receipt } = await makeReceipt({ rawPayload: new TextEncoder().encode(BOM + statementText()) });
    const e = refusal(() => verifyReceipt(receipt, opts()));
    expect(e.code).toBe('STATEMENT_MALFORMED');
    expect(e.message).toMatch(/byte order mark/);
  });
});

describe('build manifest', () => {
  const text = serializeBuildManifest(sampleManifest());
  it('a duplicate member → MANIFEST_MALFORMED', () => {
    const twice = duplicate(text, '"pcrs"', `"0": "${'00'.repeat(48)}"`);
    const e = refusal(() => parseBuildManifest(twice));
    expect(e.code).toBe('MANIFEST_MALFORMED');
    expect(e.message).toMatch(/duplicate member name "0"/);
  });
  it('a leading BOM → MANIFEST_MALFORMED (bytes and text)', () => {
    expect(refusal(() => parseBuildManifest(BOM + text)).code).toBe('MANIFEST_MALFORMED');
    expect(refusal(() => parseBuildManifest(new TextEncoder().encode(BOM + text))).code).toBe('MANIFEST_MALFORMED');
  });
});

describe('Clef artifact (our reading side)', () => {
  const code = async (fn: () => unknown): Promise<string | undefined> => {
    try {
      await fn();
    } catch (e) {
      return (e as { code?: string }).code;
    }
    return undefined;
  };

  it('a duplicate member or a BOM → ARTIFACT_MALFORMED; the plain artifact still reads', async () => {
    const id = await newAgeKey();
    const ed = generateKeyPairSync('ed25519');
    const base = (await packArtifact({ identity: 'a', environment: 'e', values: { n: { K: 'v' } }, target: { recipient: id.recipient } })).artifact;
    const b: PackedArtifact = { ...base, signatureAlgorithm: 'Ed25519' };
    b.signature = Buffer.from(await ed25519Signer(ed.privateKey).sign(clefSignaturePayload(b))).toString('base64');
    const json = serializeArtifact(b);
    const read = await readArtifact(json, { verifyKey: ed.publicKey, ageIdentities: [id.identity] });
    expect(read.values).toEqual({ n: { K: 'v' } });
    const twice = duplicate(json, '', '"identity": "other"');
    expect(await code(() => parseArtifactJson(twice))).toBe('ARTIFACT_MALFORMED');
    expect(await code(() => readArtifact(twice, { verifyKey: ed.publicKey, ageIdentities: [id.identity] }))).toBe('ARTIFACT_MALFORMED');
    expect(await code(() => parseArtifactJson(BOM + json))).toBe('ARTIFACT_MALFORMED');
    expect(await code(() => parseArtifactJson(new TextEncoder().encode(BOM + json)))).toBe('ARTIFACT_MALFORMED');
  });
});

describe('reproducible/inputs.lock.json', () => {
  const lock = readFileSync(new URL('../reproducible/inputs.lock.json', import.meta.url), 'utf8');
  const code = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      return isBuildError(e) ? e.code : `not a BuildError: ${String(e)}`;
    }
    return 'accepted';
  };
  it('parses as is; a duplicate member or a BOM → LOCK_MALFORMED', () => {
    expect(code(() => parseInputsLock(lock))).toBe('accepted');
    expect(code(() => parseInputsLock(duplicate(lock, '', '"sourceDateEpoch": 0')))).toBe('LOCK_MALFORMED');
    expect(code(() => parseInputsLock(BOM + lock))).toBe('LOCK_MALFORMED');
  });
});

describe('EIF build metadata', () => {
  it('an ambiguous section is shown raw, never interpreted', () => {
    const meta = buildEifMetadata({ imageName: 'x', imageVersion: '1', sourceDateEpoch: 1_700_000_000, toolVersion: '0.1.0', kernelVersion: '6.1', custom: {} });
    expect('BuildMetadata' in parseEifMetadata(meta)).toBe(true);
    const text = new TextDecoder().decode(meta);
    const twice = duplicate(text, '', '"BuildMetadata": {}');
    expect(parseEifMetadata(new TextEncoder().encode(twice))).toEqual({ raw: twice });
    expect(parseEifMetadata(new TextEncoder().encode(BOM + text))).toHaveProperty('raw');
  });
});
