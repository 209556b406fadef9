// Reading a policy file for the linter: a raw key policy (JSON), an object of several
// policies keyed by name (generate's JSON output for more than one key), a CloudFormation
// template (JSON or YAML) with AWS::KMS::Key resources, or Terraform aws_kms_key resources
// as `policy generate --format terraform` writes them.
import { parse as parseYaml } from 'yaml';
import { policyFail } from './errors.ts';
import { readTerraformKeyPolicies } from './hcl.ts';

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

function fromValue(value: unknown): NamedPolicy[] {
  if (!isRecord(value)) policyFail('POLICY_MALFORMED', 'expected a JSON object (a key policy, or a template containing key policies)');
  if ('Statement' in value) return [{ name: 'policy', policy: value }];
  if (isRecord(value.Resources)) {
    const out: NamedPolicy[] = [];
    for (const [id, res] of Object.entries(value.Resources)) {
      if (isRecord(res) && res.Type === 'AWS::KMS::Key') {
        const props = isRecord(res.Properties) ? res.Properties : {};
        if (props.KeyPolicy === undefined) policyFail('POLICY_MALFORMED', `${id} (AWS::KMS::Key) has no KeyPolicy`);
        const kp = typeof props.KeyPolicy === 'string' ? parseJson(props.KeyPolicy, `${id}.KeyPolicy`) : props.KeyPolicy;
        out.push({ name: id, policy: kp });
      }
    }
    if (out.length === 0) policyFail('POLICY_MALFORMED', 'the CloudFormation template has no AWS::KMS::Key resource');
    return out;
  }
  const entries = Object.entries(value);
  if (entries.length > 0 && entries.every(([, v]) => isRecord(v) && 'Statement' in v)) {
    return entries.map(([name, policy]) => ({ name, policy }));
  }
  return policyFail('POLICY_MALFORMED', 'no key policy found: expected "Statement", CloudFormation "Resources", or an object of policies');
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    return policyFail('POLICY_MALFORMED', `${where} is not JSON: ${(e as Error).message}`);
  }
}

/** Find the key policies in a file's text (format detected from the content). */
export function readPolicyFile(text: string): NamedPolicy[] {
  if (text.length > MAX_POLICY_FILE_BYTES) policyFail('POLICY_TOO_LARGE', `policy file is larger than ${MAX_POLICY_FILE_BYTES} bytes`);
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return fromValue(parseJson(text, 'the policy file'));
  if (/resource\s+"aws_kms_key"/.test(text)) {
    const found = readTerraformKeyPolicies(text);
    if (found.length > 0) return found;
  }
  let value: unknown;
  try {
    // CloudFormation short-form intrinsics (!Sub, !Ref…) are kept as plain values.
    value = parseYaml(text, { logLevel: 'silent', maxAliasCount: 100 });
  } catch (e) {
    policyFail('POLICY_MALFORMED', `not JSON, YAML or Terraform: ${(e as Error).message}`);
  }
  return fromValue(value);
}
