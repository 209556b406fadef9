// KMS-shaped errors. The emulator answers every failure the way AWS KMS does on the AWS
// JSON 1.1 protocol: an HTTP status plus `{"__type": "<Name>", "message": "..."}`, so SDKs
// map it to their own exception types (client-kms: `KMSServiceException` subclasses, or
// a generic one whose `name` is the `__type` for protocol-level errors it does not model).

/** The `__type` names the emulator can answer with (real AWS names, see README.md). */
export type KmsErrorType =
  // protocol / authentication (AWS front end, shared by all JSON services)
  | 'MissingAuthenticationTokenException'
  | 'IncompleteSignatureException'
  | 'InvalidSignatureException'
  | 'UnrecognizedClientException'
  | 'SerializationException'
  | 'UnknownOperationException'
  | 'RequestEntityTooLargeException'
  | 'InternalFailure'
  // KMS service exceptions (modelled in client-kms)
  | 'AccessDeniedException'
  | 'ValidationException'
  | 'NotFoundException'
  | 'AlreadyExistsException'
  | 'InvalidArnException'
  | 'InvalidAliasNameException'
  | 'InvalidCiphertextException'
  | 'IncorrectKeyException'
  | 'InvalidKeyUsageException'
  | 'KMSInvalidSignatureException'
  | 'MalformedPolicyDocumentException'
  | 'UnsupportedOperationException'
  | 'DisabledException'
  | 'KMSInvalidStateException'
  | 'LimitExceededException'
  | 'KMSInternalException';

const STATUS: Partial<Record<KmsErrorType, number>> = {
  MissingAuthenticationTokenException: 400,
  RequestEntityTooLargeException: 413,
  InternalFailure: 500,
  KMSInternalException: 500,
};

export class KmsError extends Error {
  readonly type: KmsErrorType;
  readonly status: number;

  constructor(type: KmsErrorType, message: string) {
    super(message);
    this.name = 'KmsError';
    this.type = type;
    this.status = STATUS[type] ?? 400;
  }

  /** Body as KMS sends it; both spellings of the message key appear in real responses. */
  toBody(): { __type: KmsErrorType; message: string } {
    return { __type: this.type, message: this.message };
  }
}

export function kmsFail(type: KmsErrorType, message: string): never {
  throw new KmsError(type, message);
}
