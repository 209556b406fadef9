// The receipt store in AWS (docs/receipt-store.md): a bucket where receipts cannot be quietly
// dropped — versioned, S3 Object Lock in COMPLIANCE mode with a default retention (no one,
// root included, deletes or overwrites a version before it expires), public access blocked,
// TLS only, encrypted, retained when the stack goes. The host role gets s3:PutObject on the
// prefix and nothing else (no read, list, delete, retention change).
import { Duration, RemovalPolicy, Stack, Validations, aws_iam as iam, aws_s3 as s3 } from 'aws-cdk-lib';
import { Construct } from 'constructs';

export interface AttestedPackReceiptBucketProps {
  /** Object Lock default retention in days (compliance mode). Default 2557 (7 years). */
  retentionDays?: number;
  /** Key prefix the host writes under. Default "receipts/". */
  prefix?: string;
  /** Server access logs go here (cdk-nag AwsSolutions-S1); default: none, acknowledged (CloudTrail data events are the better record). */
  accessLogsBucket?: s3.IBucket;
}

export class AttestedPackReceiptBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly prefix: string;

  constructor(scope: Construct, id: string, props: AttestedPackReceiptBucketProps = {}) {
    super(scope, id);
    this.prefix = props.prefix ?? 'receipts/';
    if (!/^(?:[A-Za-z0-9!_.*'()-]+\/)*$/.test(this.prefix)) throw new Error(`attested-pack: receipt prefix '${this.prefix}' must be empty or end with "/"`);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      versioned: true,
      objectLockEnabled: true,
      objectLockDefaultRetention: s3.ObjectLockRetention.compliance(Duration.days(props.retentionDays ?? 2557)),
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.RETAIN,
      ...(props.accessLogsBucket === undefined ? {} : { serverAccessLogsBucket: props.accessLogsBucket, serverAccessLogsPrefix: 'receipt-bucket/' }),
    });
    if (props.accessLogsBucket === undefined) {
      Validations.of(this.bucket).acknowledge({
        id: 'AwsSolutions-S1',
        reason: 'Receipts are write-once (Object Lock, compliance mode) and the writer holds PutObject only; enable CloudTrail S3 data events or pass accessLogsBucket for an access record.',
      });
    }
  }

  /** Exactly s3:PutObject on the prefix (bucket.grantPut would add s3:Abort* and more). */
  grantPutReceipts(role: iam.IRole): void {
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects(`${this.prefix}*`)] }));
    const bucketId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket);
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${this.prefix}*]`,
      reason: 'Receipt keys are <identity>/<environment>/<revision>.json, unknown in advance; the grant is PutObject only, under the receipt prefix of this write-once bucket.',
    });
  }
}
