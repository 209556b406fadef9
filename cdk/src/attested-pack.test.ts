// Offline synth of AttestedPackKeys + AttestedPackService (aws-cdk-lib/assertions) and the
// cdk-nag AwsSolutions pack. The key policies must be exactly what `attested-pack policy
// generate` prints for the same manifest and principals.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { App, Stack, Validations, aws_ec2 as ec2, aws_s3 as s3 } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AttestedPackKeys, AttestedPackService, parseBuildManifest } from './index.ts';
import { main } from '../../cli/main.ts';

const MANIFEST_FILE = fileURLToPath(new URL('../../cli/aws/testdata/build-manifest-v1.json', import.meta.url));
const OLD_MANIFEST_FILE = fileURLToPath(new URL('../../cli/aws/testdata/build-manifest-v2.json', import.meta.url));
const manifest = parseBuildManifest(readFileSync(MANIFEST_FILE));
const ACCOUNT = '111122223333';
const ADMIN = `arn:aws:iam::${ACCOUNT}:role/kms-admin`;
const READER = `arn:aws:iam::${ACCOUNT}:role/clef-runtime`;
const EDITOR = `arn:aws:iam::${ACCOUNT}:role/secrets-editors`;
const ROLE = `arn:aws:iam::${ACCOUNT}:role/attested-pack-enclave`;

interface Built {
  app: App;
  stack: Stack;
  template: Template;
}

interface BuildOptions {
  kind?: 'autoScaling' | 'instance';
  rollout?: boolean;
  /** Register the cdk-nag AwsSolutions pack (a CDK policy-validation plugin, runs at synth). */
  nagOutdir?: string;
  apiPeer?: ec2.IPeer;
  /** Put the group behind a Network Load Balancer. */
  loadBalancer?: boolean;
  capacity?: { min: number; max: number; desired?: number };
  instanceType?: ec2.InstanceType;
  /** Define the keys before the service (the dependency must not depend on code order). */
  keysFirst?: boolean;
}

const CERT = `arn:aws:acm:eu-west-1:${ACCOUNT}:certificate/01234567-89ab-cdef-0123-456789abcdef`;

function build(opts: BuildOptions = {}): Built {
  const app = new App(opts.nagOutdir === undefined ? {} : { outdir: opts.nagOutdir });
  if (opts.nagOutdir !== undefined) Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  const stack = new Stack(app, 'AttestedPack', { env: { account: ACCOUNT, region: 'eu-west-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1, flowLogs: { all: {} } });
  const bucket = s3.Bucket.fromBucketName(stack, 'Artifacts', 'acme-attested-pack-releases');
  const keys = () =>
    new AttestedPackKeys(stack, 'Keys', {
      manifest,
      ...(opts.rollout === true ? { additionalManifests: [parseBuildManifest(readFileSync(OLD_MANIFEST_FILE))] } : {}),
      enclaveRoleArn: ROLE,
      adminArns: [ADMIN],
      readerArns: [READER],
      editorArns: [EDITOR],
    });
  if (opts.keysFirst === true) keys();
  const service = new AttestedPackService(stack, 'Service', {
    vpc,
    manifest,
    artifacts: { bucket, eifKey: '0.1.0/attested-pack.eif', manifestKey: '0.1.0/build-manifest.json', packageKey: '0.1.0/attested-pack-0.1.0.tgz' },
    auth: { githubOidc: { issuer: 'https://token.actions.githubusercontent.com', audience: 'attested-pack', jwksUrl: 'https://token.actions.githubusercontent.com/.well-known/jwks', rules: [{ repository: 'acme/payments', ref: 'refs/heads/main', identities: ['payments-api'], environments: ['production'] }] } },
    allowApiFrom: [opts.apiPeer ?? ec2.Peer.ipv4('10.0.0.0/16')],
    ...(opts.kind === undefined ? {} : { kind: opts.kind }),
    ...(opts.loadBalancer === true ? { loadBalancer: { certificateArn: CERT } } : {}),
    ...(opts.capacity === undefined ? {} : { capacity: opts.capacity }),
    ...(opts.instanceType === undefined ? {} : { instanceType: opts.instanceType }),
  });
  expect(service.roleArn).toBe(ROLE);
  if (opts.keysFirst !== true) keys();
  return { app, stack, template: opts.nagOutdir === undefined ? Template.fromStack(stack) : (undefined as unknown as Template) };
}

async function cliPolicies(extra: string[] = []): Promise<Record<string, unknown>> {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const code = await main(['policy', 'generate', '--manifest', MANIFEST_FILE, ...extra, '--role', ROLE, '--admin', ADMIN, '--readers', READER, '--editors', EDITOR], { stdout, stderr: new PassThrough() });
  expect(code).toBe(0);
  return JSON.parse(out) as Record<string, unknown>;
}

function keyPolicies(template: Template): Record<string, { KeyPolicy: { Statement: Array<Record<string, unknown>> }; KeySpec: string }> {
  const keys = template.findResources('AWS::KMS::Key');
  const out: Record<string, { KeyPolicy: { Statement: Array<Record<string, unknown>> }; KeySpec: string }> = {};
  for (const k of Object.values(keys)) {
    const props = k.Properties as { KeyPolicy: { Id: string; Statement: Array<Record<string, unknown>> }; KeySpec: string };
    out[props.KeyPolicy.Id.replace(/^attested-pack-|-key$/g, '')] = props;
  }
  return out;
}

describe('AttestedPackKeys', () => {
  const { template } = build();

  it('key policies are exactly what `attested-pack policy generate` prints', async () => {
    const policies = keyPolicies(template);
    expect(Object.keys(policies).sort()).toEqual(['envelope', 'signing', 'sops']);
    const cli = await cliPolicies();
    for (const kind of ['sops', 'envelope', 'signing']) expect(policies[kind]?.KeyPolicy).toEqual(cli[kind]);
  });

  it('rollout: additionalManifests gives exactly policy generate --also-manifest', async () => {
    const policies = keyPolicies(build({ rollout: true }).template);
    const cli = await cliPolicies(['--also-manifest', OLD_MANIFEST_FILE]);
    expect(policies.sops?.KeyPolicy).toEqual(cli.sops);
  });

  it('no Allow for a wildcard principal, and no kms:* anywhere', () => {
    const text = JSON.stringify(template.toJSON());
    expect(text).not.toMatch(/"kms:\*"/);
    for (const p of Object.values(keyPolicies(template))) {
      for (const st of p.KeyPolicy.Statement) {
        if (st.Effect === 'Allow') expect(JSON.stringify(st.Principal)).not.toContain('"*"');
      }
    }
  });

  it('symmetric keys rotate, keys are retained, aliases exist', () => {
    template.hasResourceProperties('AWS::KMS::Key', { KeySpec: 'SYMMETRIC_DEFAULT', EnableKeyRotation: true });
    template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    template.resourceCountIs('AWS::KMS::Alias', 3);
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/attested-pack-sops' });
  });
});

describe('AttestedPackService', () => {
  const { template } = build();

  it('launch template: enclave support on, IMDSv2 required, no SSH key, encrypted disk', () => {
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        EnclaveOptions: { Enabled: true },
        MetadataOptions: Match.objectLike({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 }),
        BlockDeviceMappings: [Match.objectLike({ Ebs: Match.objectLike({ Encrypted: true }) })],
        KeyName: Match.absent(),
      }),
    });
  });

  it('the enclave role is named, has SSM access and no kms:* in any IAM policy', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'attested-pack-enclave',
      ManagedPolicyArns: Match.arrayWith([Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([':iam::aws:policy/AmazonSSMManagedInstanceCore'])]) })]),
    });
    for (const p of Object.values(template.findResources('AWS::IAM::Policy'))) {
      const actions = JSON.stringify((p.Properties as { PolicyDocument: unknown }).PolicyDocument);
      expect(actions).not.toMatch(/"kms:[A-Za-z*]*"/);
    }
  });

  it('receipt bucket: versioned, Object Lock in compliance mode, private, retained; the host role may only PutObject receipts', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      ObjectLockEnabled: true,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 2557 } } },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    });
    const buckets = template.findResources('AWS::S3::Bucket');
    expect(Object.values(buckets).every((b) => (b as { DeletionPolicy?: string }).DeletionPolicy === 'Retain')).toBe(true);
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => (p.Properties as { PolicyDocument: { Statement: Array<{ Action: string | string[]; Resource: unknown }> } }).PolicyDocument.Statement,
    );
    const onReceipts = statements.filter((st) => JSON.stringify(st.Resource).includes('ServiceReceiptsBucket'));
    expect(onReceipts).toHaveLength(1);
    expect(onReceipts[0]!.Action).toBe('s3:PutObject');
    expect(JSON.stringify(onReceipts[0]!.Resource)).toContain('/receipts/*');
    const lt = Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0] as { Properties: { LaunchTemplateData: { UserData: unknown } } };
    const userData = JSON.stringify(lt.Properties.LaunchTemplateData.UserData);
    expect(userData).toContain('receiptStore:');
    expect(userData).toContain('prefix: receipts/');
  });

  it('security group: API only from the given peer, HTTPS out only', () => {
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupIngress: [Match.objectLike({ CidrIp: '10.0.0.0/16', FromPort: 8443, ToPort: 8443 })],
      SecurityGroupEgress: [Match.objectLike({ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443 })],
    });
  });

  it('user data installs the deploy/ units, the KMS-only egress allowlist and checks the EIF digest', () => {
    const lt = Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0] as { Properties: { LaunchTemplateData: { UserData: unknown } } };
    const userData = JSON.stringify(lt.Properties.LaunchTemplateData.UserData);
    for (const unit of ['attested-pack-enclave.service', 'attested-pack-host.service', 'attested-pack-enclave-bridge.service', 'attested-pack-egress-bridge.service']) {
      expect(userData).toContain(`/etc/systemd/system/${unit}`);
    }
    expect(userData).toContain('VSOCK-CONNECT:16:5000');
    expect(userData).toContain('run-enclave --eif /opt/attested-pack/attested-pack.eif --manifest /etc/attested-pack/build-manifest.json --memory 2048 --cpu-count 2');
    expect(userData).toContain('kms.eu-west-1.amazonaws.com:443');
    expect(userData).toContain(`${manifest.eif.sha384}  /opt/attested-pack/attested-pack.eif`);
    expect(userData).toContain('memory_mib: 2048');
  });

  it('runs as an Auto Scaling group by default, or one instance', () => {
    template.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 1);
    const single = build({ kind: 'instance' }).template;
    single.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 0);
    single.hasResourceProperties('AWS::EC2::Instance', { DisableApiTermination: true });
  });

  it('refuses a development-blob manifest', () => {
    const stack = new Stack(new App(), 'Dev', { env: { account: ACCOUNT, region: 'eu-west-1' } });
    const dev = { ...manifest, blobSet: { kind: 'development' as const, description: 'dev' } };
    expect(() => new AttestedPackService(stack, 'S', { vpc: new ec2.Vpc(stack, 'V'), manifest: dev, artifacts: { bucket: s3.Bucket.fromBucketName(stack, 'B', 'acme-releases'), eifKey: 'e', manifestKey: 'm', packageKey: 'p' }, auth: {} })).toThrow(/only a nitro-cli blob build/);
  });
});

/** Logical ids a resource's DependsOn names. */
function dependsOn(template: Template, type: string): string[][] {
  return Object.values(template.findResources(type)).map((r) => (r as { DependsOn?: string[] }).DependsOn ?? []);
}

describe('deployment order and instance types (issue 14 item 11)', () => {
  it('every key is created after the enclave role, whichever is defined first', () => {
    for (const keysFirst of [false, true]) {
      const { template } = build({ keysFirst });
      const roleId = Object.keys(template.findResources('AWS::IAM::Role', { Properties: { RoleName: 'attested-pack-enclave' } }))[0] as string;
      expect(roleId).toBeDefined();
      const deps = dependsOn(template, 'AWS::KMS::Key');
      expect(deps).toHaveLength(3);
      for (const d of deps) expect(d).toContain(roleId);
    }
  });

  it('refuses Graviton (arm64) instance types: the image is x86_64', () => {
    for (const t of [ec2.InstanceType.of(ec2.InstanceClass.M7G, ec2.InstanceSize.XLARGE), new ec2.InstanceType('c6g.2xlarge')]) {
      expect(() => build({ instanceType: t })).toThrow(/arm64.*x86_64/);
    }
    expect(() => build({ instanceType: new ec2.InstanceType('c6i.2xlarge') })).not.toThrow();
  });
});

describe('AttestedPackService at scale', () => {
  it('rolling image update: one instance at a time, launched before an old one goes, counted only after /v1/ready', () => {
    const { template } = build({ capacity: { min: 2, max: 4, desired: 3 } });
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { MinSize: '2', MaxSize: '4', DesiredCapacity: '3' });
    template.hasResource('AWS::AutoScaling::AutoScalingGroup', {
      UpdatePolicy: { AutoScalingRollingUpdate: Match.objectLike({ MinInstancesInService: 2, MaxBatchSize: 1, WaitOnResourceSignals: true, MinSuccessfulInstancesPercent: 100 }) },
      CreationPolicy: { ResourceSignal: Match.objectLike({ Count: 2 }) },
    });
    const lt = Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0] as { Properties: { LaunchTemplateData: { UserData: unknown } } };
    const userData = JSON.stringify(lt.Properties.LaunchTemplateData.UserData);
    expect(userData).toContain('cfn-signal');
    expect(userData).toContain('https://127.0.0.1:8443/v1/ready');
    // The host serves TLS with a key made on the instance.
    expect(userData).toContain('certFile: host-tls.pem');
    expect(userData).toContain('-keyout /etc/attested-pack/host-tls-key.pem');
  });

  it('defaults to min 1, max 2 (headroom for the rolling update); refuses max ≤ min and desired outside min..max', () => {
    const { template } = build();
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { MinSize: '1', MaxSize: '2' });
    template.hasResource('AWS::AutoScaling::AutoScalingGroup', { UpdatePolicy: { AutoScalingRollingUpdate: Match.objectLike({ MinInstancesInService: 1 }) } });
    expect(() => build({ capacity: { min: 2, max: 2 } })).toThrow(/must exceed capacity.min/);
    expect(() => build({ capacity: { min: 0, max: 2 } })).toThrow(/at least 1/);
    expect(() => build({ capacity: { min: 1, max: 3, desired: 4 } })).toThrow(/between min and max/);
    expect(() => build({ capacity: { min: 1.5, max: 3 } })).toThrow(/integers/);
  });

  it('behind a Network Load Balancer: TLS listener, TLS to the hosts, health check HTTPS /v1/ready, hosts reachable only from it', () => {
    const { template } = build({ loadBalancer: true });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Type: 'network', Scheme: 'internal' });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Protocol: 'TLS', Port: 443, Certificates: [{ CertificateArn: CERT }] });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Protocol: 'TLS',
      Port: 8443,
      TargetType: 'instance',
      HealthCheckProtocol: 'HTTPS',
      HealthCheckPath: '/v1/ready',
      HealthCheckPort: '8443',
    });
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { HealthCheckType: 'ELB', TargetGroupARNs: Match.anyValue() });
    // The CIDR reaches the listener only; the hosts admit the load balancer's group only.
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('load balancer'),
      SecurityGroupIngress: [Match.objectLike({ CidrIp: '10.0.0.0/16', FromPort: 443, ToPort: 443 })],
    });
    const hostSg = Object.values(template.findResources('AWS::EC2::SecurityGroup', { Properties: { GroupDescription: Match.stringLikeRegexp('parent instances') } }))[0] as { Properties: { SecurityGroupIngress?: unknown } };
    expect(hostSg.Properties.SecurityGroupIngress).toBeUndefined();
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { FromPort: 8443, ToPort: 8443, SourceSecurityGroupId: Match.anyValue() });
  });

  it('a load balancer needs the Auto Scaling group', () => {
    expect(() => build({ kind: 'instance', loadBalancer: true })).toThrow(/loadBalancer needs kind autoScaling/);
  });
});

interface ValidationReport {
  pluginReports: Array<{ pluginName: string; conclusion: string; violations: Array<{ ruleName: string }> }>;
}

/** Synthesize with the AwsSolutions pack; the violations it reports (synth throws when there are any). */
function nag(opts: BuildOptions): { threw: boolean; violations: string[] } {
  const outdir = mkdtempSync(join(tmpdir(), 'ap-cdk-nag-'));
  try {
    const { app } = build({ ...opts, nagOutdir: outdir });
    let threw = false;
    try {
      app.synth();
    } catch {
      threw = true;
    }
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as ValidationReport;
    // A clean run lists no plugin report; the second test shows the same setup does report.
    const mine = report.pluginReports.filter((p) => p.pluginName === 'AwsSolutions');
    expect(report.pluginReports.length).toBe(mine.length);
    return { threw, violations: mine.flatMap((p) => p.violations.map((v) => v.ruleName)) };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

describe('cdk-nag AwsSolutions', () => {
  it('passes for the Auto Scaling group, behind a load balancer, and the single instance (acknowledgements carry their reasons in the constructs)', () => {
    for (const kind of ['autoScaling', 'instance'] as const) expect(nag({ kind })).toEqual({ threw: false, violations: [] });
    expect(nag({ loadBalancer: true })).toEqual({ threw: false, violations: [] });
  });

  it('is really checking: opening the API to the internet is reported', () => {
    const r = nag({ apiPeer: ec2.Peer.anyIpv4() });
    expect(r.threw).toBe(true);
    expect(r.violations).toContain('AwsSolutions-EC23');
  });
});
