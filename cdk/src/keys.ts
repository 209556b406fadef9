// AttestedPackKeys: the SOPS, envelope and signing KMS keys with exactly the policies that
// `attested-pack policy generate` writes for the same build manifest. The policy logic is not
// repeated here: it is imported from the root package (policy/generate.ts), so the construct,
// the CLI and the Terraform module cannot drift apart.
import { Aspects, RemovalPolicy, Stack, Token, aws_iam as iam, aws_kms as kms, type IAspect } from 'aws-cdk-lib';
import { Construct, type IConstruct } from 'constructs';
import { generateDocumentedKeyPolicy, type DocumentedKeyPolicy } from '../../policy/generate.ts';
import { KEY_KINDS, type KeyKind } from '../../policy/types.ts';
import type { BuildManifest } from '../../verifier/build-manifest.ts';

export interface AttestedPackKeysProps {
  /** Published build manifest: the PCRs the sops key pins. */
  manifest: BuildManifest;
  /** Image rollout: images also allowed to decrypt until removed (docs/operations.md). */
  additionalManifests?: BuildManifest[];
  /**
   * The enclave (parent instance) role, as a literal ARN: the policy generator validates it.
   * Use `AttestedPackService.roleArn` (the service names its role) or `enclaveRoleArn()`.
   */
  enclaveRoleArn: string;
  /** Key administrators (literal ARNs); deploy as one of them (KMS lockout check). */
  adminArns: string[];
  /** Runtimes: Decrypt artifact keys (envelope), read the public key (signing). */
  readerArns?: string[];
  /** People/roles who encrypt SOPS files (sops key Encrypt). */
  editorArns?: string[];
  /** Also pin PCR3 to this parent-instance role. */
  pcr3RoleArn?: string;
  /** Also pin PCR8 (signed EIF). */
  pinPcr8?: boolean;
  /** alias/<prefix>-sops, -envelope, -signing (default attested-pack). */
  aliasPrefix?: string;
  /** Default RETAIN: deleting a stack must never schedule the keys' deletion. */
  removalPolicy?: RemovalPolicy;
  /**
   * The enclave role's construct (e.g. `AttestedPackService.role`), when it is created in this
   * app: the keys are created after it. A role named by `enclaveRoleArn` in the same stack is
   * found without it.
   */
  enclaveRole?: IConstruct;
}

/**
 * KMS refuses a key policy naming a principal that does not exist yet ("invalid principals"),
 * and the policies name the role by a literal ARN, which carries no dependency: make every key
 * depend on the role resource of that name in the same stack, wherever it is defined.
 */
class DependOnRoleNamed implements IAspect {
  readonly keys: Construct;
  readonly roleName: string;

  constructor(keys: Construct, roleName: string) {
    this.keys = keys;
    this.roleName = roleName;
  }

  visit(node: IConstruct): void {
    if (node instanceof iam.CfnRole && node.roleName === this.roleName && Stack.of(node) === Stack.of(this.keys)) {
      this.keys.node.addDependency(node);
    }
  }
}

/** The ARN of a named IAM role in this stack's account; the account must be concrete. */
export function enclaveRoleArn(scope: Construct, roleName: string, partition = 'aws'): string {
  const account = Stack.of(scope).account;
  if (Token.isUnresolved(account)) {
    throw new Error('attested-pack: give the stack an explicit env.account — key policies name the enclave role by its literal ARN');
  }
  return `arn:${partition}:iam::${account}:role/${roleName}`;
}

export class AttestedPackKeys extends Construct {
  readonly sopsKey: kms.CfnKey;
  readonly envelopeKey: kms.CfnKey;
  readonly signingKey: kms.CfnKey;
  /** The generated documents (policy, notes, key settings) per key kind. */
  readonly documents: Record<KeyKind, DocumentedKeyPolicy>;

  constructor(scope: Construct, id: string, props: AttestedPackKeysProps) {
    super(scope, id);
    const prefix = props.aliasPrefix ?? 'attested-pack';
    const docs = {} as Record<KeyKind, DocumentedKeyPolicy>;
    const keys = {} as Record<KeyKind, kms.CfnKey>;
    for (const kind of KEY_KINDS) {
      const doc = generateDocumentedKeyPolicy({
        key: kind,
        manifest: props.manifest,
        enclaveRoleArn: props.enclaveRoleArn,
        adminArns: props.adminArns,
        readerArns: props.readerArns ?? [],
        editorArns: props.editorArns ?? [],
        ...(props.pcr3RoleArn === undefined ? {} : { pcr3RoleArn: props.pcr3RoleArn }),
        pinPcr8: props.pinPcr8 === true,
        ...(props.additionalManifests === undefined ? {} : { additionalManifests: props.additionalManifests }),
      });
      docs[kind] = doc;
      const symmetric = doc.key.keySpec === 'SYMMETRIC_DEFAULT';
      const key = new kms.CfnKey(this, `${kind[0]?.toUpperCase()}${kind.slice(1)}Key`, {
        description: doc.key.description,
        keySpec: doc.key.keySpec,
        keyUsage: doc.key.keyUsage,
        // Asymmetric keys cannot rotate automatically (docs/operations.md: replacing the signing key).
        ...(symmetric ? { enableKeyRotation: true } : {}),
        pendingWindowInDays: 30,
        keyPolicy: doc.policy,
      });
      key.applyRemovalPolicy(props.removalPolicy ?? RemovalPolicy.RETAIN);
      new kms.CfnAlias(this, `${kind[0]?.toUpperCase()}${kind.slice(1)}Alias`, { aliasName: `alias/${prefix}-${kind}`, targetKeyId: key.attrKeyId });
      keys[kind] = key;
    }
    // The role first (see DependOnRoleNamed; docs/aws-guide.md "IAM propagation").
    if (props.enclaveRole !== undefined) this.node.addDependency(props.enclaveRole);
    const roleName = /:role\/(?:.*\/)?([^/]+)$/.exec(props.enclaveRoleArn)?.[1];
    if (roleName !== undefined) Aspects.of(Stack.of(this)).add(new DependOnRoleNamed(this, roleName));
    this.documents = docs;
    this.sopsKey = keys.sops;
    this.envelopeKey = keys.envelope;
    this.signingKey = keys.signing;
  }
}
