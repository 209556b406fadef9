// Opening KMS `CiphertextForRecipient`: a CMS EnvelopedData (RFC 5652) in BER with one
// KeyTransRecipientInfo (RSAES-OAEP, SHA-256 + MGF1-SHA-256, no label) and AES-256-CBC
// content, as AWS KMS returns it for a Recipient request (aws-nitro-enclaves-sdk-c
// `source/cms.c`). pkijs parses the structure (BER: indefinite lengths, constructed
// OCTET STRINGs); the crypto is node:crypto so opening is synchronous. Every field is
// checked against the one profile KMS uses: anything else is refused, not guessed at.
import { constants, createDecipheriv, createHash, createPublicKey, privateDecrypt, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import { AlgorithmIdentifier, ContentInfo, EnvelopedData, KeyTransRecipientInfo, RSAESOAEPParams } from 'pkijs';
import { parseKmsShape } from './cms-fast.ts';

import { OID_AES256_CBC, OID_DATA, OID_ENVELOPED_DATA, OID_MGF1, OID_RSAES_OAEP, OID_SHA256 } from '../verifier/cms-oids.ts';

export { OID_AES256_CBC, OID_DATA, OID_ENVELOPED_DATA, OID_MGF1, OID_RSAES_OAEP, OID_SHA256 };

/** KMS plaintexts are at most 4 KiB; the CMS around them is far below this. */
export const MAX_CMS_BYTES = 64 * 1024;

export type CmsErrorCode = 'CMS_TOO_LARGE' | 'CMS_MALFORMED' | 'CMS_UNSUPPORTED' | 'CMS_NO_RECIPIENT' | 'CMS_DECRYPT_FAILED';

export class CmsError extends Error {
  readonly code: CmsErrorCode;
  constructor(code: CmsErrorCode, message: string) {
    super(message);
    this.name = 'CmsError';
    this.code = code;
  }
}

function fail(code: CmsErrorCode, message: string): never {
  throw new CmsError(code, message);
}

export interface KeyTransRecipient {
  /** subjectKeyIdentifier (`rid [0]`); KMS uses SHA-256 of the recipient's DER SPKI. */
  subjectKeyIdentifier: Uint8Array;
  /** RSAES-OAEP encrypted content-encryption key (256 bytes for RSA-2048). */
  encryptedKey: Uint8Array;
}

export interface ParsedCiphertextForRecipient {
  recipients: KeyTransRecipient[];
  /** AES-256-CBC IV (16 bytes). */
  iv: Uint8Array;
  /** Concatenated encryptedContent (primitive or constructed in the BER). */
  encryptedContent: Uint8Array;
}

function bytes(view: ArrayBuffer | Uint8Array): Uint8Array {
  return view instanceof Uint8Array ? new Uint8Array(view) : new Uint8Array(view.slice(0));
}

function checkOaepParams(alg: AlgorithmIdentifier): void {
  if (alg.algorithmId !== OID_RSAES_OAEP) fail('CMS_UNSUPPORTED', `key transport ${alg.algorithmId} is not RSAES-OAEP`);
  if (alg.algorithmParams === undefined) fail('CMS_UNSUPPORTED', 'RSAES-OAEP without parameters means SHA-1; KMS uses SHA-256');
  let params: RSAESOAEPParams;
  try {
    params = new RSAESOAEPParams({ schema: alg.algorithmParams });
  } catch (e) {
    fail('CMS_MALFORMED', `RSAES-OAEP parameters: ${(e as Error).message}`);
  }
  if (params.hashAlgorithm.algorithmId !== OID_SHA256) fail('CMS_UNSUPPORTED', `OAEP hash ${params.hashAlgorithm.algorithmId} is not SHA-256`);
  if (params.maskGenAlgorithm.algorithmId !== OID_MGF1) fail('CMS_UNSUPPORTED', 'OAEP mask generation is not MGF1');
  let mgfHash: AlgorithmIdentifier;
  try {
    mgfHash = new AlgorithmIdentifier({ schema: params.maskGenAlgorithm.algorithmParams });
  } catch {
    fail('CMS_MALFORMED', 'MGF1 parameters are not an AlgorithmIdentifier');
  }
  if (mgfHash.algorithmId !== OID_SHA256) fail('CMS_UNSUPPORTED', `MGF1 hash ${mgfHash.algorithmId} is not SHA-256`);
  // pSourceAlgorithm [2]: absent means the empty label (what KMS sends). pkijs fills
  // a placeholder when it is absent, so look at the encoding itself.
  const seq = alg.algorithmParams as asn1js.Sequence;
  const labelNode = (seq.valueBlock?.value ?? []).find((n) => n.idBlock.tagClass === 3 && n.idBlock.tagNumber === 2);
  if (labelNode !== undefined) {
    const inner = (labelNode as asn1js.Constructed).valueBlock.value[0];
    let ok = false;
    try {
      const source = new AlgorithmIdentifier({ schema: inner });
      ok = source.algorithmId === '1.2.840.113549.1.1.9' && source.algorithmParams instanceof asn1js.OctetString && source.algorithmParams.valueBlock.valueHexView.length === 0;
    } catch {
      ok = false;
    }
    if (!ok) fail('CMS_UNSUPPORTED', 'OAEP with a label is not what KMS sends');
  }
}

/** Parse the structure without decrypting (strict to the KMS profile). */
export function parseCiphertextForRecipient(ber: Uint8Array): ParsedCiphertextForRecipient {
  return parseCiphertextForRecipientWith(ber, true);
}

/** `fast: false` always runs the full pkijs parse (tests compare both). */
export function parseCiphertextForRecipientWith(ber: Uint8Array, fast: boolean): ParsedCiphertextForRecipient {
  if (ber.length > MAX_CMS_BYTES) fail('CMS_TOO_LARGE', `CiphertextForRecipient is larger than ${MAX_CMS_BYTES} bytes`);
  // The exact KMS shape without pkijs (cms-fast.ts); anything else gets the full parse.
  const quick = fast ? parseKmsShape(ber) : undefined;
  if (quick !== undefined) return quick;
  try {
    return parseStructure(ber);
  } catch (e) {
    // pkijs/asn1js throw plain Errors from deep inside (OID conversion, schema walks) on
    // hostile input; every one of them means the bytes are not a well-formed message.
    if (e instanceof CmsError) throw e;
    return fail('CMS_MALFORMED', `not a well-formed CMS EnvelopedData: ${(e as Error).message}`);
  }
}

function parseStructure(ber: Uint8Array): ParsedCiphertextForRecipient {
  const asn1 = asn1js.fromBER(bytes(ber));
  if (asn1.offset === -1 || asn1.result.error !== '') fail('CMS_MALFORMED', `not BER: ${asn1.result.error}`);
  if (asn1.offset !== ber.length) fail('CMS_MALFORMED', `${ber.length - asn1.offset} trailing bytes after the ContentInfo`);
  let envelope: EnvelopedData;
  try {
    const info = new ContentInfo({ schema: asn1.result });
    if (info.contentType !== OID_ENVELOPED_DATA) fail('CMS_UNSUPPORTED', `content type ${info.contentType} is not EnvelopedData`);
    envelope = new EnvelopedData({ schema: info.content });
  } catch (e) {
    if (e instanceof CmsError) throw e;
    fail('CMS_MALFORMED', `not a CMS EnvelopedData: ${(e as Error).message}`);
  }
  const recipients: KeyTransRecipient[] = [];
  for (const ri of envelope.recipientInfos) {
    if (ri.variant !== 1 || !(ri.value instanceof KeyTransRecipientInfo)) continue; // other recipient kinds: not for us
    const ktri = ri.value;
    if (!(ktri.rid instanceof asn1js.OctetString)) continue; // issuerAndSerialNumber: KMS never sends it
    checkOaepParams(ktri.keyEncryptionAlgorithm);
    recipients.push({
      subjectKeyIdentifier: bytes(ktri.rid.valueBlock.valueHexView),
      encryptedKey: bytes(ktri.encryptedKey.valueBlock.valueHexView),
    });
  }
  if (recipients.length === 0) fail('CMS_NO_RECIPIENT', 'no RSAES-OAEP key-transport recipient identified by subjectKeyIdentifier');
  const eci = envelope.encryptedContentInfo;
  if (eci.contentType !== OID_DATA) fail('CMS_UNSUPPORTED', `encrypted content type ${eci.contentType} is not id-data`);
  const alg = eci.contentEncryptionAlgorithm;
  if (alg.algorithmId !== OID_AES256_CBC) fail('CMS_UNSUPPORTED', `content encryption ${alg.algorithmId} is not AES-256-CBC`);
  if (!(alg.algorithmParams instanceof asn1js.OctetString)) fail('CMS_MALFORMED', 'AES-256-CBC parameters are not an IV OCTET STRING');
  const iv = bytes(alg.algorithmParams.valueBlock.valueHexView);
  if (iv.length !== 16) fail('CMS_MALFORMED', `IV is ${iv.length} bytes, not 16`);
  if (eci.encryptedContent === undefined) fail('CMS_MALFORMED', 'encryptedContent is absent (detached content is not used by KMS)');
  let encryptedContent: Uint8Array;
  try {
    encryptedContent = bytes(eci.getEncryptedContent());
  } catch (e) {
    fail('CMS_MALFORMED', `encryptedContent: ${(e as Error).message}`);
  }
  if (encryptedContent.length === 0 || encryptedContent.length % 16 !== 0) fail('CMS_MALFORMED', 'encryptedContent is not a whole number of AES blocks');
  return { recipients, iv, encryptedContent };
}

// Deriving and exporting the public key costs about a millisecond; a pack opens one reply
// per data key with the same key, so the identifier is computed once per key object.
const spkiIds = new WeakMap<KeyObject, Buffer>();

function spkiSha256(privateKey: KeyObject): Buffer {
  let id = spkiIds.get(privateKey);
  if (id === undefined) {
    const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
    id = createHash('sha256').update(spki).digest();
    spkiIds.set(privateKey, id);
  }
  return id;
}

/**
 * Open a CiphertextForRecipient with the enclave's ephemeral RSA private key and return
 * the plaintext (data key, random bytes, …). The recipient is found by trying the key —
 * the one whose subjectKeyIdentifier is SHA-256 of our SPKI first, then the others.
 */
export function openCiphertextForRecipient(ber: Uint8Array, privateKey: KeyObject): Uint8Array {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'rsa') fail('CMS_NO_RECIPIENT', 'the key must be an RSA private key');
  const parsed = parseCiphertextForRecipient(ber);
  const ours = spkiSha256(privateKey);
  const ordered = [...parsed.recipients].sort((a, b) => Number(ours.equals(b.subjectKeyIdentifier)) - Number(ours.equals(a.subjectKeyIdentifier)));
  let cek: Buffer | undefined;
  for (const r of ordered) {
    try {
      cek = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, r.encryptedKey);
      break;
    } catch {
      // not encrypted to this key: try the next recipient
    }
  }
  if (cek === undefined) fail('CMS_NO_RECIPIENT', 'no recipient in the CiphertextForRecipient can be opened with this key');
  if (cek.length !== 32) fail('CMS_DECRYPT_FAILED', `content-encryption key is ${cek.length} bytes, not 32`);
  try {
    const decipher = createDecipheriv('aes-256-cbc', cek, parsed.iv);
    return new Uint8Array(Buffer.concat([decipher.update(parsed.encryptedContent), decipher.final()]));
  } catch {
    return fail('CMS_DECRYPT_FAILED', 'content does not decrypt (bad padding)');
  }
}
