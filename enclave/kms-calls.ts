// Records every key-material call of one pack for the receipt's `predicate.kms.calls`
// (docs/receipt.md): the operation, the key ARN KMS answered with, and the request id KMS
// put in x-amzn-RequestId — CloudTrail logs the same id as `requestID`, which is how the
// audit (cli/audit) proves that no attested KMS call happened outside a receipted pack.
// An SDK middleware, so no call site can forget it; only answered calls are recorded (a
// refused call fails the pack, and CloudTrail shows it as a failed event).
import type { KMSClient } from '@aws-sdk/client-kms';
import type { KmsCallOperation, ReceiptKmsCall } from '../verifier/statement.ts';

const RECORDED: Record<string, KmsCallOperation> = {
  DecryptCommand: 'Decrypt',
  EncryptCommand: 'Encrypt',
  SignCommand: 'Sign',
  GenerateDataKeyCommand: 'GenerateDataKey',
};

export class KmsCallLogError extends Error {
  readonly code = 'KMS_NO_REQUEST_ID';

  constructor(message: string) {
    super(message);
    this.name = 'KmsCallLogError';
  }
}

/** The calls of one pack, in the order KMS answered them. */
export class KmsCallLog {
  readonly calls: ReceiptKmsCall[] = [];

  record(operation: KmsCallOperation, keyArn: string | undefined, requestId: string | undefined): void {
    // Without KMS's own id the call could not be found in CloudTrail: refuse the pack.
    if (requestId === undefined || requestId === '') throw new KmsCallLogError(`KMS answered ${operation} without a request id`);
    if (keyArn === undefined || keyArn === '') throw new KmsCallLogError(`KMS answered ${operation} without a key id`);
    this.calls.push({ operation, keyArn, requestId });
  }

  /** Add the recording middleware to a KMS client (after retries: the answered attempt's id). */
  attach(client: KMSClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        const operation = RECORDED[context.commandName ?? ''];
        if (operation !== undefined) {
          const output = result.output as { KeyId?: string; $metadata?: { requestId?: string } };
          this.record(operation, output.KeyId, output.$metadata?.requestId);
        }
        return result;
      },
      { step: 'initialize', name: 'attestedPackKmsCallLog' },
    );
  }
}
