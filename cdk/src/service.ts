// AttestedPackService: the Nitro Enclaves parent instances. A launch template with enclave
// support, IMDSv2 only, no SSH key, encrypted disk; a named IAM role (so key policies can name
// it literally) with SSM access; a log group; a security group that admits the host API only
// from the given peers and lets out only HTTPS; and user data that installs nitro-cli, writes
// the allocator config, the host config (egress allowlist = KMS) and the systemd units from
// deploy/systemd (the same files the tests check), fetches the EIF + manifest, checks the
// EIF's SHA-384 against the manifest and starts everything. Run as an Auto Scaling group
// (default; optionally behind a Network Load Balancer, load-balancer.ts, with a rolling
// update that waits for each new instance's /v1/ready) or one instance.
import { readFileSync } from 'node:fs';
import { Duration, RemovalPolicy, Stack, Token, Validations, aws_autoscaling as autoscaling, aws_ec2 as ec2, aws_iam as iam, aws_logs as logs, aws_s3 as s3, type aws_sns as sns } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { stringify as toYaml } from 'yaml';
import type { BuildManifest } from '../../verifier/build-manifest.ts';
import { enclaveRoleArn } from './keys.ts';
import { AttestedPackReceiptBucket } from './receipt-bucket.ts';
import { AttestedPackLoadBalancer, type AttestedPackLoadBalancerProps } from './load-balancer.ts';

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
  /**
   * Who may call the API: the hosts directly, or — with `loadBalancer` — the load balancer's
   * listener (the hosts then admit only the load balancer). Nobody by default.
   */
  allowApiFrom?: ec2.IPeer[];
  apiPort?: number;
  /** Default m6i.xlarge (4 vCPUs: 2 for the enclave, 2 for the parent). x86_64 only: the image is x86_64. */
  instanceType?: ec2.InstanceType;
  /** Default: latest Amazon Linux 2023 (x86_64). */
  machineImage?: ec2.IMachineImage;
  enclave?: { memoryMiB?: number; cpuCount?: number };
  /** 'autoScaling' (default) or one plain 'instance'. */
  kind?: 'autoScaling' | 'instance';
  /**
   * Group size; default min 1, max 2. `max` must exceed `min`: a rolling image update
   * launches a new instance before it retires an old one. `desired` is set on every
   * deploy when given (leave it out to let scaling actions own it).
   */
  capacity?: { min: number; max: number; desired?: number };
  /** A Network Load Balancer in front of the group (TLS to the load balancer and to each host). */
  loadBalancer?: AttestedPackLoadBalancerProps;
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
  readonly loadBalancer?: AttestedPackLoadBalancer;
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
    if (Token.isUnresolved(stack.region)) throw new Error('attested-pack: give the stack an explicit env.region (the egress allowlist names the regional KMS endpoint)');
    const instanceType = props.instanceType ?? ec2.InstanceType.of(ec2.InstanceClass.M6I, ec2.InstanceSize.XLARGE);
    checkInstanceType(instanceType);
    const kind = props.kind ?? 'autoScaling';
    if (kind === 'instance' && props.loadBalancer !== undefined) throw new Error('attested-pack: loadBalancer needs kind autoScaling');
    const capacity = checkCapacity(props.capacity);
    const roleName = props.roleName ?? 'attested-pack-enclave';
    const port = props.apiPort ?? 8443;

    this.role = this.createRole(roleName, props);
    this.roleName = roleName;
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
    if (props.loadBalancer === undefined) {
      for (const peer of props.allowApiFrom ?? []) this.securityGroup.addIngressRule(peer, ec2.Port.tcp(port), 'attested-pack host API (CI)');
    }

    const userData = hostUserData(props, stack.region, port, this.receipts);
    this.launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      instanceType,
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
    if (kind === 'autoScaling') {
      this.autoScalingGroup = this.createGroup(props, subnets, capacity);
      // The rolling update waits for this: sent once /v1/ready answers 200 (or a failure).
      userData.addSignalOnExitCommand(this.autoScalingGroup);
      if (props.loadBalancer !== undefined) {
        this.loadBalancer = new AttestedPackLoadBalancer(this, 'LoadBalancer', {
          ...props.loadBalancer,
          vpc: props.vpc,
          group: this.autoScalingGroup,
          instanceSecurityGroup: this.securityGroup,
          apiPort: port,
          allowFrom: props.allowApiFrom ?? [],
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

  private createRole(roleName: string, props: AttestedPackServiceProps): iam.Role {
    const role = new iam.Role(this, 'Role', {
      roleName,
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'attested-pack parent instance; the enclave calls KMS with these credentials (the key policies gate Decrypt on attestation)',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    // Exactly the three objects, GetObject only (bucket.grantRead would add List*/GetBucket*).
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [props.artifacts.eifKey, props.artifacts.manifestKey, props.artifacts.packageKey].map((k) => props.artifacts.bucket.arnForObjects(k)),
      }),
    );
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      reason:
        'Session Manager replaces SSH (no key pair, no port 22). AmazonSSMManagedInstanceCore is the AWS-maintained minimum for it; ' +
        'it grants no KMS action, so it cannot widen what the key policies allow.',
    });
    return role;
  }

  private createGroup(props: AttestedPackServiceProps, subnets: ec2.SelectedSubnets, capacity: Capacity): autoscaling.AutoScalingGroup {
    const bootTimeout = Duration.minutes(20);
    const group = new autoscaling.AutoScalingGroup(this, 'Group', {
      vpc: props.vpc,
      vpcSubnets: subnets,
      launchTemplate: this.launchTemplate,
      minCapacity: capacity.min,
      maxCapacity: capacity.max,
      ...(capacity.desired === undefined ? {} : { desiredCapacity: capacity.desired }),
      // Behind the load balancer, an instance whose /v1/ready fails is replaced, not just unrouted.
      healthChecks:
        props.loadBalancer === undefined
          ? autoscaling.HealthChecks.ec2({ gracePeriod: Duration.minutes(10) })
          : autoscaling.HealthChecks.withAdditionalChecks({ additionalTypes: [autoscaling.AdditionalHealthCheckType.ELB], gracePeriod: Duration.minutes(15) }),
      ...(props.notificationsTopic === undefined ? {} : { notifications: [{ topic: props.notificationsTopic }] }),
      // A new image: one new instance at a time, launched before an old one goes (min stays
      // in service; max − min is the headroom), and only counted once it signals /v1/ready.
      signals: autoscaling.Signals.waitForMinCapacity({ timeout: bootTimeout }),
      updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({
        minInstancesInService: capacity.min,
        maxBatchSize: 1,
        waitOnResourceSignals: true,
        pauseTime: bootTimeout,
        minSuccessPercentage: 100,
      }),
    });
    if (props.notificationsTopic === undefined) {
      Validations.of(group).acknowledge({
        id: 'AwsSolutions-AS3',
        reason:
          'No notificationsTopic was given: scaling events remain in the group activity history and CloudTrail. ' +
          'Pass notificationsTopic to have launch/terminate events (and their errors) sent to an SNS topic.',
      });
    }
    return group;
  }
}

interface Capacity {
  min: number;
  max: number;
  desired?: number;
}

function checkCapacity(c: AttestedPackServiceProps['capacity']): Capacity {
  const cap: Capacity = c ?? { min: 1, max: 2 };
  const ints = [cap.min, cap.max, ...(cap.desired === undefined ? [] : [cap.desired])];
  if (!ints.every((n) => Number.isSafeInteger(n) && n >= 0)) throw new Error('attested-pack: capacity values must be non-negative integers');
  if (cap.min < 1) throw new Error('attested-pack: capacity.min must be at least 1');
  if (cap.max <= cap.min) {
    throw new Error(`attested-pack: capacity.max (${cap.max}) must exceed capacity.min (${cap.min}): a rolling update launches a new instance before it retires an old one (CloudFormation requires MinInstancesInService < MaxSize)`);
  }
  if (cap.desired !== undefined && (cap.desired < cap.min || cap.desired > cap.max)) throw new Error('attested-pack: capacity.desired must be between min and max');
  return cap;
}

/** The EIF is built for x86_64 (the Node binary and blobs in it): Graviton cannot boot it. */
function checkInstanceType(t: ec2.InstanceType): void {
  if (t.architecture !== ec2.InstanceArchitecture.X86_64) {
    throw new Error(`attested-pack: instance type ${t.toString()} is ${t.architecture}; the enclave image is x86_64 — use an x86_64 Nitro type with Enclaves support (e.g. m6i, c6i, r6i, m7i)`);
  }
}

function hostUserData(props: AttestedPackServiceProps, region: string, port: number, receipts: AttestedPackReceiptBucket): ec2.UserData {
  const memoryMiB = props.enclave?.memoryMiB ?? 2048;
  const cpuCount = props.enclave?.cpuCount ?? 2;
  const hostConfig = {
    listen: { host: '0.0.0.0', port },
    // TLS to the host: its own key and self-signed certificate, made on the instance (below).
    tls: { certFile: 'host-tls.pem', keyFile: 'host-tls-key.pem' },
    enclave: { socketPath: '/run/attested-pack/enclave.sock' },
    region,
    manifest: 'build-manifest.json',
    auth: props.auth,
    // The enclave's only way out: the regional KMS endpoint (and its FIPS twin).
    egress: { socketPath: '/run/attested-pack/egress.sock', allow: [`kms.${region}.amazonaws.com:443`, `kms-fips.${region}.amazonaws.com:443`] },
    credentials: { source: 'imds' },
    logLevel: 'info',
    // Every receipt is stored before it is returned (a failed store withholds the pack).
    receiptStore: { s3: { bucket: receipts.bucket.bucketName, prefix: receipts.prefix } },
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
    'dnf install -y aws-nitro-enclaves-cli aws-nitro-enclaves-cli-devel socat nodejs22 nodejs22-npm aws-cfn-bootstrap openssl',
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
    // The host's TLS key never leaves the instance; the load balancer encrypts to it.
    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 -subj '/CN=attested-pack-host' -keyout /etc/attested-pack/host-tls-key.pem -out /etc/attested-pack/host-tls.pem",
    'chown attested-pack /etc/attested-pack/host-tls-key.pem && chmod 0600 /etc/attested-pack/host-tls-key.pem',
    ...file('/etc/attested-pack/host.yaml', toYaml(hostConfig)),
    ...file('/etc/tmpfiles.d/attested-pack.conf', 'd /run/attested-pack 0750 attested-pack attested-pack -'),
    'systemd-tmpfiles --create /etc/tmpfiles.d/attested-pack.conf',
    ...units.flatMap((u) => file(`/etc/systemd/system/${u.name}`, u.text)),
    'systemctl daemon-reload',
    `systemctl enable --now ${UNITS.join(' ')}`,
    // Done only when the enclave attests to the manifest: /v1/ready 200 (else the script
    // fails, the group's signal says so and a rolling update rolls back).
    `for i in $(seq 1 90); do curl -sfk -o /dev/null https://127.0.0.1:${port}/v1/ready && exit 0; sleep 10; done; echo 'attested-pack: /v1/ready did not answer 200 within 15 minutes' >&2; exit 1`,
  );
  return userData;
}
