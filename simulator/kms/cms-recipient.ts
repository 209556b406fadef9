// Building `CiphertextForRecipient` the way AWS KMS does for a Recipient request: CMS
// EnvelopedData v2, one KeyTransRecipientInfo v2 with rid = subjectKeyIdentifier =
// SHA-256 of the recipient's DER SPKI, RSAES-OAEP with explicit SHA-256 + MGF1-SHA-256,
// AES-256-CBC content (PKCS#7 padding), BER with indefinite lengths and the content split
// into OCTET STRING chunks (the shape of the real vector in fixtures/kms-recipient).
import { constants, createCipheriv, createHash, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import * as asn1js from 'asn1js';
import { AlgorithmIdentifier, ContentInfo, EncryptedContentInfo, EnvelopedData, KeyTransRecipientInfo, RecipientInfo, RSAESOAEPParams } from 'pkijs';
import { OID_AES256_CBC, OID_DATA, OID_ENVELOPED_DATA, OID_MGF1, OID_RSAES_OAEP, OID_SHA256 } from '../../verifier/cms-oids.ts';

function ab(b: Uint8Array): ArrayBuffer {
  return new Uint8Array(b).buffer;
}

/** Mark every constructed node indefinite-length, as KMS's BER output is. */
function indefinite(node: asn1js.AsnType): void {
  const block = node as unknown as { idBlock: { isConstructed: boolean }; lenBlock: { isIndefiniteForm: boolean }; valueBlock: { value?: unknown } };
  if (!block.idBlock?.isConstructed) return;
  block.lenBlock.isIndefiniteForm = true;
  const children = block.valueBlock.value;
  if (Array.isArray(children)) for (const c of children) indefinite(c as asn1js.AsnType);
}

export function buildCiphertextForRecipient(plaintext: Uint8Array, recipientSpkiDer: Uint8Array): Uint8Array {
  const publicKey = createPublicKey({ key: Buffer.from(recipientSpkiDer), format: 'der', type: 'spki' });
  const cek = randomBytes(32);
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', cek, iv);
  const content = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const encryptedKey = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek);
  const ski = createHash('sha256').update(recipientSpkiDer).digest();

  const sha256 = new AlgorithmIdentifier({ algorithmId: OID_SHA256, algorithmParams: new asn1js.Null() });
  const oaep = new RSAESOAEPParams({
    hashAlgorithm: sha256,
    maskGenAlgorithm: new AlgorithmIdentifier({ algorithmId: OID_MGF1, algorithmParams: sha256.toSchema() }),
  });
  const recipient = new KeyTransRecipientInfo({
    version: 2,
    rid: new asn1js.OctetString({ valueHex: ab(ski) }),
    keyEncryptionAlgorithm: new AlgorithmIdentifier({ algorithmId: OID_RSAES_OAEP, algorithmParams: oaep.toSchema() }),
    encryptedKey: new asn1js.OctetString({ valueHex: ab(encryptedKey) }),
  });
  const enveloped = new EnvelopedData({
    version: 2,
    recipientInfos: [new RecipientInfo({ variant: 1, value: recipient })],
    encryptedContentInfo: new EncryptedContentInfo({
      contentType: OID_DATA,
      contentEncryptionAlgorithm: new AlgorithmIdentifier({ algorithmId: OID_AES256_CBC, algorithmParams: new asn1js.OctetString({ valueHex: ab(iv) }) }),
      encryptedContent: new asn1js.OctetString({ valueHex: ab(content) }),
    }),
  });
  const info = new ContentInfo({ contentType: OID_ENVELOPED_DATA, content: enveloped.toSchema() });
  const schema = info.toSchema();
  indefinite(schema);
  return new Uint8Array(schema.toBER(false));
}
