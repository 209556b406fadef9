// AttestedPackService: the Nitro Enclaves parent instances. A launch template with enclave
// support, IMDSv2 only, no SSH key, encrypted disk; a named IAM role (so key policies can name
// it literally) with SSM access; a log group; a security group that admits the host API only
// from the given peers and lets out only HTTPS; and user data that installs nitro-cli, writes
// the allocator config, the host config (egress allowlist = KMS) and the systemd units from
// deploy/systemd (the same files the tests check), fetches the EIF + manifest, checks the
// EIF's SHA-384 against the manifest and starts everything. Run as an Auto Scaling group
// (default) or one instance.
import { readFileSync } from 'node:fs';
import { Duration, RemovalPolicy, Stack, Token, Validations, aws_autoscaling as autoscaling, aws_ec2 as ec2, aws_iam as iam, aws_logs as logs, aws_s3 as s3, type aws_sns as sns } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { stringify as toYaml } from 'yaml';
import type { BuildManifest } from '../../verifier/build-manifest.ts';
import { enclaveRoleArn } from './keys.ts';
import { AttestedPackReceiptBucket } from './receipt-bucket.ts';

const UNIT_DIR = new URL('../../deploy/systemd/', import.meta.url);
const UNITS = ['attested-pack-enclave.service', 'attested-pack-enclave-bridge.service', 'attested-pack-egress-bridge.service', 'attested-pack-host.service'];
/** What deploy/systemd/attested-pack-enclave.service passes; replaced by the construct's sizes. */
const UNIT_SIZES = '--memory 2048 --cpu-count 2';

export interface AttestedPackServiceProps {
  vpc: ec2.IVpc;
  /** Default: private subnets with egress. */
  vpcSubnets?: ec2.SubnetSelection;
  /** Published build manifest of the EIF in `artifacts`. */
  manifest: BuildManifest;
  /** Where instances fetch the image, its manifest and the attested-pack npm tarball. */
  artifacts: { bucket: s3.IBucket; eifKey: string; manifestKey: string; packageKey: string };
  /** The host configuration's `auth` section (host/README.md): tokens and/or githubOidc. */
  auth: Record<string, unknown>;
  /** Who may call the host API (e.g. the load balancer's security group). Nobody by default. */
  allowApiFrom?: ec2.IPeer[];
  apiPort?: number;
  /** Default m6i.xlarge (4 vCPUs: 2 for the enclave, 2 for the parent). */
  instanceType?: ec2.InstanceType;
  /** Default: latest Amazon Linux 2023 (x86_64). */
  machineImage?: ec2.IMachineImage;
  enclave?: { memoryMiB?: number; cpuCount?: number };
  /** 'autoScaling' (default; min = max = 1 unless given) or one plain 'instance'. */
  kind?: 'autoScaling' | 'instance';
  capacity?: { min: number; max: number };
  /** Auto Scaling launch/terminate (and error) notifications go here. */
  notificationsTopic?: sns.ITopic;
  /** Default attested-pack-enclave; the key policies name arn:…:role/<roleName>. */
  roleName?: string;
  logRetention?: logs.RetentionDays;
  /** Receipt store (docs/receipt-store.md); default: a new AttestedPackReceiptBucket. */
  receipts?: AttestedPackReceiptBucket;
}

export class AttestedPackService extends Construct {
  readonly role: iam.Role;
  readonly roleName: string;
  readonly securityGroup: ec2.SecurityGroup;
  readonly launchTemplate: ec2.LaunchTemplate;
  readonly logGroup: logs.LogGroup;
  readonly receipts: AttestedPackReceiptBucket;
  readonly autoScalingGroup?: autoscaling.AutoScalingGroup;
  readonly instance?: ec2.CfnInstance;

  /** Literal role ARN for AttestedPackKeys (needs a stack with a concrete account). */
  get roleArn(): string {
    return enclaveRoleArn(this, this.roleName);
  }

  constructor(scope: Construct, id: string, props: AttestedPackServiceProps) {
    super(scope, id);
    if (props.manifest.blobSet.kind !== 'nitro-cli') {
      throw new Error(`attested-pack: the manifest is a ${props.manifest.blobSet.kind} build; only a nitro-cli blob build boots in a Nitro Enclave`);
    }
    const stack = Stack.of(this);
    const roleName = props.roleName ?? 'attested-pack-enclave';
    const memoryMiB = props.enclave?.memoryMiB ?? 2048;
    const cpuCount = props.enclave?.cpuCount ?? 2;
    const port = props.apiPort ?? 8443;
    if (Token.isUnresolved(stack.region)) throw new Error('attested-pack: give the stack an explicit env.region (the egress allowlist names the regional KMS endpoint)');

    this.role = new iam.Role(this, 'Role', {
      roleName,
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'attested-pack parent instance; the enclave calls KMS with these credentials (the key policies gate Decrypt on attestation)',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    this.roleName = roleName;
    // Exactly the three objects, GetObject only (bucket.grantRead would add List*/GetBucket*).
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [props.artifacts.eifKey, props.artifacts.manifestKey, props.artifacts.packageKey].map((k) => props.artifacts.bucket.arnForObjects(k)),
      }),
    );
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      reason:
        'Session Manager replaces SSH (no key pair, no port 22). AmazonSSMManagedInstanceCore is the AWS-maintained minimum for it; ' +
        'it grants no KMS action, so it cannot widen what the key policies allow.',
    });

    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR, removalPolicy: RemovalPolicy.RETAIN });
    this.logGroup.grantWrite(this.role);
    this.receipts = props.receipts ?? new AttestedPackReceiptBucket(this, 'Receipts');
    this.receipts.grantPutReceipts(this.role);

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'attested-pack parent instances: host API from the allowed peers only; HTTPS out (KMS, SSM, S3, logs)',
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS only: KMS (relayed for the enclave by the allowlisting egress proxy), SSM, S3, CloudWatch Logs');
    for (const peer of props.allowApiFrom ?? []) this.securityGroup.addIngressRule(peer, ec2.Port.tcp(port), 'attested-pack host API (CI)');

    const hostConfig = {
      listen: { host: '0.0.0.0', port },
      enclave: { socketPath: '/run/attested-pack/enclave.sock' },
      region: stack.region,
      manifest: 'build-manifest.json',
      auth: props.auth,
      // The enclave's only way out: the regional KMS endpoint (and its FIPS twin).
      egress: { socketPath: '/run/attested-pack/egress.sock', allow: [`kms.${stack.region}.amazonaws.com:443`, `kms-fips.${stack.region}.amazonaws.com:443`] },
      credentials: { source: 'imds' },
      logLevel: 'info',
      // Every receipt is stored before it is returned (a failed store withholds the pack).
      receiptStore: { s3: { bucket: this.receipts.bucket.bucketName, prefix: this.receipts.prefix } },
    };
    const units = UNITS.map((name) => {
      let text = readFileSync(new URL(name, UNIT_DIR), 'utf8');
      if (name === 'attested-pack-enclave.service') {
        if (!text.includes(UNIT_SIZES)) throw new Error(`deploy/systemd/${name} no longer says '${UNIT_SIZES}'`);
        text = text.replace(UNIT_SIZES, `--memory ${memoryMiB} --cpu-count ${cpuCount}`);
      }
      return { name, text };
    });
    const file = (path: string, text: string, mode = '0644'): string[] => [`cat > ${path} <<'ATTESTED_PACK_EOF'`, text.trimEnd(), 'ATTESTED_PACK_EOF', `chmod ${mode} ${path}`];
    const s3url = (key: string) => `s3://${props.artifacts.bucket.bucketName}/${key}`;
    const userData = ec2.UserData.forLinux();
    userData.addCommands(
      'set -euo pipefail',
      'dnf install -y aws-nitro-enclaves-cli aws-nitro-enclaves-cli-devel socat nodejs22 nodejs22-npm',
      'id attested-pack >/dev/null 2>&1 || useradd --system --home-dir /var/lib/attested-pack --create-home attested-pack',
      'usermod -aG ne attested-pack',
      ...file('/etc/nitro_enclaves/allocator.yaml', `---\nmemory_mib: ${memoryMiB}\ncpu_count: ${cpuCount}\n`),
      'systemctl enable --now nitro-enclaves-allocator.service',
      'mkdir -p /opt/attested-pack /etc/attested-pack',
      `aws s3 cp ${s3url(props.artifacts.packageKey)} /opt/attested-pack/attested-pack.tgz`,
      'npm install --global /opt/attested-pack/attested-pack.tgz',
      'ln -sf "$(npm prefix --global)/bin/attested-pack" /usr/bin/attested-pack',
      `aws s3 cp ${s3url(props.artifacts.eifKey)} /opt/attested-pack/attested-pack.eif`,
      `aws s3 cp ${s3url(props.artifacts.manifestKey)} /etc/attested-pack/build-manifest.json`,
      // The EIF must be the manifest's (run-enclave checks its PCRs again before launching).
      `echo "${props.manifest.eif.sha384}  /opt/attested-pack/attested-pack.eif" | sha384sum -c -`,
      ...file('/etc/attested-pack/host.yaml', toYaml(hostConfig)),
      ...file('/etc/tmpfiles.d/attested-pack.conf', 'd /run/attested-pack 0750 attested-pack attested-pack -'),
      'systemd-tmpfiles --create /etc/tmpfiles.d/attested-pack.conf',
      ...units.flatMap((u) => file(`/etc/systemd/system/${u.name}`, u.text)),
      'systemctl daemon-reload',
      `systemctl enable --now ${UNITS.join(' ')}`,
    );

    this.launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      instanceType: props.instanceType ?? ec2.InstanceType.of(ec2.InstanceClass.M6I, ec2.InstanceSize.XLARGE),
      machineImage: props.machineImage ?? ec2.MachineImage.latestAmazonLinux2023(),
      role: this.role,
      securityGroup: this.securityGroup,
      userData,
      nitroEnclaveEnabled: true,
      requireImdsv2: true,
      httpTokens: ec2.LaunchTemplateHttpTokens.REQUIRED,
      httpPutResponseHopLimit: 1,
      detailedMonitoring: true,
      blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(30, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3 }) }],
    });

    const subnets = props.vpc.selectSubnets(props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });
    if ((props.kind ?? 'autoScaling') === 'autoScaling') {
      this.autoScalingGroup = new autoscaling.AutoScalingGroup(this, 'Group', {
        vpc: props.vpc,
        vpcSubnets: subnets,
        launchTemplate: this.launchTemplate,
        minCapacity: props.capacity?.min ?? 1,
        maxCapacity: props.capacity?.max ?? 1,
        healthChecks: autoscaling.HealthChecks.ec2({ gracePeriod: Duration.minutes(10) }),
        ...(props.notificationsTopic === undefined ? {} : { notifications: [{ topic: props.notificationsTopic }] }),
        updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({ minInstancesInService: props.capacity?.min ?? 1 }),
      });
      if (props.notificationsTopic === undefined) {
        Validations.of(this.autoScalingGroup).acknowledge({
          id: 'AwsSolutions-AS3',
          reason:
            'No notificationsTopic was given: scaling events remain in the group activity history and CloudTrail. ' +
            'Pass notificationsTopic to have launch/terminate events (and their errors) sent to an SNS topic.',
        });
      }
    } else {
      this.instance = new ec2.CfnInstance(this, 'Instance', {
        launchTemplate: { launchTemplateId: this.launchTemplate.launchTemplateId as string, version: this.launchTemplate.latestVersionNumber },
        subnetId: subnets.subnetIds[0] as string,
        disableApiTermination: true,
        // Also in the launch template; cdk-nag (EC28) reads the instance's own property.
        monitoring: true,
      });
    }
  }
}
