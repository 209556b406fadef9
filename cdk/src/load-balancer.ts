// The Network Load Balancer in front of the Auto Scaling group: TLS from CI to the load
// balancer (an ACM certificate), TLS again from the load balancer to each host (the host's
// own certificate, made on the instance at boot; NLB does not validate target
// certificates, so what this protects is the VPC hop, not the host's identity — the receipt,
// not TLS, proves what packed). Health checks are HTTPS GET /v1/ready, which answers 200
// only after the host has attested its enclave against the manifest with a fresh nonce, so
// an instance joins the rotation only once it can pack, and leaves it when it cannot.
import { Duration, Validations, aws_autoscaling as autoscaling, aws_ec2 as ec2, aws_elasticloadbalancingv2 as elbv2, type aws_s3 as s3 } from 'aws-cdk-lib';
import { Construct } from 'constructs';

export interface AttestedPackLoadBalancerProps {
  /** ACM certificate for the listener (the name CI connects to). */
  certificateArn: string;
  /** Default false: internal (CI runners in the VPC or peered networks). */
  internetFacing?: boolean;
  /** Listener port; default 443. */
  port?: number;
  /** Default: the group's subnets (internal) or public subnets (internet-facing). */
  vpcSubnets?: ec2.SubnetSelection;
  /** NLB access logs (TLS listener connection logs). Without it cdk-nag ELB2 is acknowledged. */
  accessLogs?: { bucket: s3.IBucket; prefix?: string };
  /**
   * Time a draining instance keeps its open connections (a rolling update or scale-in),
   * so packs in flight finish; default 120 s (longer than the host's pack deadline).
   */
  drainSeconds?: number;
}

export interface LoadBalancedGroupProps extends AttestedPackLoadBalancerProps {
  vpc: ec2.IVpc;
  group: autoscaling.AutoScalingGroup;
  instanceSecurityGroup: ec2.SecurityGroup;
  apiPort: number;
  /** Who may connect to the listener. */
  allowFrom: ec2.IPeer[];
}

export class AttestedPackLoadBalancer extends Construct {
  readonly loadBalancer: elbv2.NetworkLoadBalancer;
  readonly securityGroup: ec2.SecurityGroup;
  readonly targetGroup: elbv2.NetworkTargetGroup;
  readonly listenerPort: number;

  constructor(scope: Construct, id: string, props: LoadBalancedGroupProps) {
    super(scope, id);
    this.listenerPort = props.port ?? 443;
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'attested-pack load balancer: TLS from the allowed peers; to the hosts API port only',
      allowAllOutbound: false,
    });
    for (const peer of props.allowFrom) this.securityGroup.addIngressRule(peer, ec2.Port.tcp(this.listenerPort), 'attested-pack API (CI) over TLS');
    this.securityGroup.addEgressRule(props.instanceSecurityGroup, ec2.Port.tcp(props.apiPort), 'to the hosts (TLS) and their /v1/ready health check');
    props.instanceSecurityGroup.addIngressRule(this.securityGroup, ec2.Port.tcp(props.apiPort), 'attested-pack host API from the load balancer only');

    this.loadBalancer = new elbv2.NetworkLoadBalancer(this, 'Nlb', {
      vpc: props.vpc,
      internetFacing: props.internetFacing ?? false,
      securityGroups: [this.securityGroup],
      crossZoneEnabled: true,
      ...(props.vpcSubnets === undefined ? {} : { vpcSubnets: props.vpcSubnets }),
    });
    if (props.accessLogs !== undefined) this.loadBalancer.logAccessLogs(props.accessLogs.bucket, props.accessLogs.prefix);
    else {
      Validations.of(this.loadBalancer).acknowledge({
        id: 'AwsSolutions-ELB2',
        reason:
          'No accessLogs bucket was given. Every pack is still recorded by the host log (CloudWatch Logs) with its request id, ' +
          'and every artifact has a receipt; pass loadBalancer.accessLogs to keep the TLS connection logs too.',
      });
    }

    this.targetGroup = new elbv2.NetworkTargetGroup(this, 'Targets', {
      vpc: props.vpc,
      port: props.apiPort,
      protocol: elbv2.Protocol.TLS,
      targets: [props.group],
      deregistrationDelay: Duration.seconds(props.drainSeconds ?? 120),
      healthCheck: {
        protocol: elbv2.Protocol.HTTPS,
        path: '/v1/ready',
        port: String(props.apiPort),
        interval: Duration.seconds(10),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 2,
      },
    });
    this.loadBalancer.addListener('Tls', {
      port: this.listenerPort,
      protocol: elbv2.Protocol.TLS,
      certificates: [elbv2.ListenerCertificate.fromArn(props.certificateArn)],
      sslPolicy: elbv2.SslPolicy.TLS13_RES,
      defaultTargetGroups: [this.targetGroup],
    });
  }
}
