// Object identifiers of the one CMS profile AWS KMS uses for Recipient responses
// (EnvelopedData, RSAES-OAEP with SHA-256/MGF1, AES-256-CBC). Shared by the enclave, which
// opens such messages (enclave/cms.ts), and the KMS emulator, which writes them.
export const OID_ENVELOPED_DATA = '1.2.840.113549.1.7.3';
export const OID_DATA = '1.2.840.113549.1.7.1';
export const OID_RSAES_OAEP = '1.2.840.113549.1.1.7';
export const OID_MGF1 = '1.2.840.113549.1.1.8';
export const OID_SHA256 = '2.16.840.1.101.3.4.2.1';
export const OID_AES256_CBC = '2.16.840.1.101.3.4.1.42';
