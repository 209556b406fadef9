// Reading a policy file for the linter: a raw key policy (JSON), an object of several
// policies keyed by name (generate's JSON output for more than one key), a CloudFormation
// template (JSON or YAML) with AWS::KMS::Key resources, or Terraform (readPolicyFileAsync:
// the HCL parser is WebAssembly and loads asynchronously).
import { parseStrictJson } from '../verifier/strict-json.ts';
import { parseCloudFormationYaml, resolveIntrinsics } from './cloudformation.ts';
import { policyFail } from './errors.ts';
import { readTerraformKeyPolicies } from './terraform.ts';

export const MAX_POLICY_FILE_BYTES = 1024 * 1024;

export interface NamedPolicy {
  /** "policy", the key of a multi-policy object, a CloudFormation logical id or a Terraform address. */
  name: string;
  /** As read: the linter validates its shape. */
  policy: unknown;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fromTemplate(resources: Record<string, unknown>): NamedPolicy[] {
  const out: NamedPolicy[] = [];
  for (const [id, res] of Object.entries(resources)) {
    if (!isRecord(res) || (res.Type !== 'AWS::KMS::Key' && res.Type !== 'AWS::KMS::ReplicaKey')) continue;
    const props = isRecord(res.Properties) ? res.Properties : {};
    if (props.KeyPolicy === undefined) {
      policyFail('CANNOT_LINT', `${id} (${String(res.Type)}) has no KeyPolicy: AWS applies its default key policy, which lets every principal the account's IAM policies allow use the key`);
    }
    const kp = resolveIntrinsics(props.KeyPolicy, `${id}.KeyPolicy`);
    out.push({ name: id, policy: typeof kp === 'string' ? parseJson(kp, `${id}.KeyPolicy`) : kp });
  }
  if (out.length === 0) policyFail('POLICY_MALFORMED', 'the CloudFormation template has no AWS::KMS::Key resource');
  return out;
}

function fromValue(value: unknown): NamedPolicy[] {
  if (!isRecord(value)) policyFail('POLICY_MALFORMED', 'expected a JSON object (a key policy, or a template containing key policies)');
  if ('Statement' in value) return [{ name: 'policy', policy: value }];
  if (isRecord(value.Resources)) return fromTemplate(value.Resources);
  const entries = Object.entries(value);
  if (entries.length > 0 && entries.every(([, v]) => isRecord(v) && 'Statement' in v)) {
    return entries.map(([name, policy]) => ({ name, policy }));
  }
  return policyFail('POLICY_MALFORMED', 'no key policy found: expected "Statement", CloudFormation "Resources", or an object of policies');
}

function parseJson(text: string, where: string): unknown {
  try {
    return parseStrictJson(text);
  } catch (e) {
    return policyFail('POLICY_MALFORMED', `${where} is not JSON: ${(e as Error).message}`);
  }
}

function looksLikeTerraform(text: string): boolean {
  return /^\s*(resource|data|variable|locals|provider|terraform|module|output)\s+("|\{)/m.test(text);
}

function checkSize(text: string): void {
  if (text.length > MAX_POLICY_FILE_BYTES) policyFail('POLICY_TOO_LARGE', `policy file is larger than ${MAX_POLICY_FILE_BYTES} bytes`);
}

/** Find the key policies in a JSON/YAML file's text (key policy, {kind: policy}, CloudFormation). */
export function readPolicyFile(text: string): NamedPolicy[] {
  checkSize(text);
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return fromValue(parseJson(text, 'the policy file'));
  if (looksLikeTerraform(text)) policyFail('CANNOT_LINT', 'this is Terraform: read it with readPolicyFileAsync (policy lint does)');
  let value: unknown;
  try {
    value = parseCloudFormationYaml(text);
  } catch (e) {
    policyFail('POLICY_MALFORMED', `not JSON, YAML or Terraform: ${(e as Error).message}`);
  }
  return fromValue(value);
}

/** As readPolicyFile, and Terraform (aws_kms_key / aws_kms_key_policy resources) too. */
export async function readPolicyFileAsync(text: string): Promise<NamedPolicy[]> {
  checkSize(text);
  if (!looksLikeTerraform(text)) return readPolicyFile(text);
  const found = await readTerraformKeyPolicies(text);
  if (found.length === 0) policyFail('POLICY_MALFORMED', 'the Terraform file has no aws_kms_key or aws_kms_key_policy resource');
  return found;
}
