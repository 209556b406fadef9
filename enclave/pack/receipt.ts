// The receipt of one pack (docs/receipt.md): statement → DSSE (ephemeral P-384 key) → a
// fresh NSM document binding the key, SHA-384 of the signed bytes and the CI's nonce.
import { createHash, generateKeyPairSync } from 'node:crypto';
import type { Nsm } from '../nsm/nsm.ts';
import { buildReceiptStatement, type ReceiptPredicateInput } from '../../verifier/statement.ts';
import { assembleReceipt, receiptPublicKey, receiptUserData, signReceiptStatement } from '../../verifier/receipt.ts';

export type ReceiptInput = Omit<ReceiptPredicateInput, 'artifactSha256'>;

export async function signReceipt(nsm: Nsm, input: ReceiptInput, artifact: Uint8Array, nonce: Uint8Array): Promise<Uint8Array> {
  const statement = buildReceiptStatement({ ...input, artifactSha256: createHash('sha256').update(artifact).digest('hex') });
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const envelope = signReceiptStatement(statement, privateKey);
  const attestation = await nsm.attest({
    publicKey: receiptPublicKey(privateKey),
    userData: receiptUserData(envelope),
    nonce: nonce.length > 0 ? nonce : null,
  });
  return assembleReceipt(envelope, attestation);
}
