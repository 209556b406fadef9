import { describe, expect, it } from 'vitest';
import { readPolicyFile, readPolicyFileAsync } from './read.ts';
import { readTerraformKeyPolicies } from './terraform.ts';
import { isPolicyError } from './errors.ts';

const policy = { Version: '2012-10-17', Statement: [{ Sid: 'A', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:role/x' }, Action: 'kms:Encrypt', Resource: '*' }] };

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isPolicyError(e)) return e.code;
    throw e;
  }
  return 'none';
}

async function asyncRefusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isPolicyError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'none';
}

describe('readPolicyFile', () => {
  it('reads a raw policy, and an object of named policies', () => {
    expect(readPolicyFile(JSON.stringify(policy))).toEqual([{ name: 'policy', policy }]);
    expect(readPolicyFile(JSON.stringify({ sops: policy, envelope: policy })).map((p) => p.name)).toEqual(['sops', 'envelope']);
  });

  it('reads AWS::KMS::Key resources from CloudFormation JSON and YAML (KeyPolicy as object or string)', () => {
    const cfn = { Resources: { K: { Type: 'AWS::KMS::Key', Properties: { KeyPolicy: policy } }, B: { Type: 'AWS::S3::Bucket' }, S: { Type: 'AWS::KMS::Key', Properties: { KeyPolicy: JSON.stringify(policy) } } } };
    expect(readPolicyFile(JSON.stringify(cfn))).toEqual([{ name: 'K', policy }, { name: 'S', policy }]);
    const yaml = `Resources:\n  K:\n    Type: AWS::KMS::Key\n    Properties:\n      Description: !Sub "\${AWS::StackName} key"\n      KeyPolicy:\n        Version: "2012-10-17"\n        Statement:\n          - Sid: A\n            Effect: Allow\n            Principal: { AWS: "arn:aws:iam::111122223333:role/x" }\n            Action: kms:Encrypt\n            Resource: "*"\n`;
    expect(readPolicyFile(yaml)).toEqual([{ name: 'K', policy }]);
  });

  it('CloudFormation short-form intrinsics are their long form: resolved when literal, refused (CANNOT_LINT) otherwise', () => {
    const tpl = (principal: string) => `Resources:\n  K:\n    Type: AWS::KMS::Key\n    Properties:\n      KeyPolicy:\n        Version: "2012-10-17"\n        Statement:\n          - Sid: A\n            Effect: Allow\n            Principal: { AWS: ${principal} }\n            Action: kms:Encrypt\n            Resource: "*"\n`;
    expect(readPolicyFile(tpl('!Sub "arn:aws:iam::111122223333:role/x"'))).toEqual([{ name: 'K', policy }]);
    expect(readPolicyFile(tpl('!Join ["", ["arn:aws:iam::111122223333:", "role/x"]]'))).toEqual([{ name: 'K', policy }]);
    expect(refusal(() => readPolicyFile(tpl('!Ref EnclaveRoleArn')))).toBe('CANNOT_LINT');
    expect(refusal(() => readPolicyFile(tpl('!Sub "arn:aws:iam::\${AWS::AccountId}:root"')))).toBe('CANNOT_LINT');
    expect(refusal(() => readPolicyFile(tpl('!GetAtt Role.Arn')))).toBe('CANNOT_LINT');
    expect(refusal(() => readPolicyFile(JSON.stringify({ Resources: { K: { Type: 'AWS::KMS::Key', Properties: { KeyPolicy: { ...policy, Statement: [{ ...policy.Statement[0], Principal: { AWS: { 'Fn::ImportValue': 'role' } } }] } } } } })))).toBe('CANNOT_LINT');
    // No KeyPolicy: AWS's default policy (account-wide, IAM decides) is not lint-clean by omission.
    expect(refusal(() => readPolicyFile(JSON.stringify({ Resources: { K: { Type: 'AWS::KMS::Key', Properties: {} } } })))).toBe('CANNOT_LINT');
    expect(refusal(() => readPolicyFile('Resources:\n  K:\n    Type: AWS::KMS::Key\n  K:\n    Type: AWS::KMS::Key\n'))).toBe('POLICY_MALFORMED');
  });

  it('reads Terraform aws_kms_key policy = jsonencode(...) literals with comments and escapes', async () => {
    const tf = `# header
resource "aws_kms_key" "a" {
  description = "x"
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [
      # why
      {
        Sid       = "A" // trailing
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::111122223333:role/x" }
        Action    = "kms:Encrypt"
        Resource  = "*"
      },
    ]
  })
}
resource "aws_kms_key" "b" {
  policy = jsonencode({ Statement = [{ Sid = "B\\u0041", Effect = "Deny", Principal = "*", Action = ["kms:Decrypt"], Resource = "*", Condition = { Null = { "x:y" = "true", n = 1, ok = true, z = null } } }], Version = "$\${v}" })
}
`;
    const found = await readPolicyFileAsync(tf);
    expect(found.map((f) => f.name)).toEqual(['aws_kms_key.a', 'aws_kms_key.b']);
    expect(found[0]?.policy).toEqual(policy);
    expect(found[1]?.policy).toEqual({
      Statement: [{ Sid: 'BA', Effect: 'Deny', Principal: '*', Action: ['kms:Decrypt'], Resource: '*', Condition: { Null: { 'x:y': 'true', n: 1, ok: true, z: null } } }],
      Version: '${v}',
    });
  });

  it('Terraform: a commented-out resource is a comment; heredocs, aws_kms_key_policy and several keys are read', async () => {
    const good = JSON.stringify(policy);
    const tf = `/* resource "aws_kms_key" "a" {\n  policy = jsonencode(${good})\n} */\nresource "aws_kms_key" "a" {\n  # policy = jsonencode({})\n  policy = <<EOT\n${good}\nEOT\n}\nresource "aws_kms_key" "b" {}\nresource "aws_kms_key_policy" "b" {\n  key_id = aws_kms_key.b.id\n  policy = "{\\"Version\\":\\"2012-10-17\\",\\"Statement\\":[]}"\n}\n`;
    const found = await readPolicyFileAsync(tf);
    expect(found.map((f) => f.name)).toEqual(['aws_kms_key.a', 'aws_kms_key_policy.b']);
    expect(found[0]?.policy).toEqual(policy);
    expect(found[1]?.policy).toEqual({ Version: '2012-10-17', Statement: [] });
    expect(refusal(() => readPolicyFile(tf))).toBe('CANNOT_LINT');
  });

  it('refuses Terraform it cannot resolve, naming the expression (CANNOT_LINT), and malformed Terraform', async () => {
    const key = (expr: string) => `resource "aws_kms_key" "a" {\n  policy = ${expr}\n}\n`;
    expect(await asyncRefusal(readTerraformKeyPolicies(key('data.aws_iam_policy_document.x.json')))).toMatch(/^CANNOT_LINT: .*data\.aws_iam_policy_document\.x\.json/);
    expect(await asyncRefusal(readTerraformKeyPolicies(key('file("policy.json")')))).toMatch(/^CANNOT_LINT: .*file\("policy\.json"\)/);
    expect(await asyncRefusal(readTerraformKeyPolicies(key('templatefile("p.tpl", { role = var.role })')))).toMatch(/^CANNOT_LINT: .*templatefile/);
    expect(await asyncRefusal(readTerraformKeyPolicies(key('jsonencode({ Version = "${var.v}" })')))).toMatch(/^CANNOT_LINT: .*var\.v/);
    expect(await asyncRefusal(readTerraformKeyPolicies(key('jsonencode({ A = var.x })')))).toMatch(/^CANNOT_LINT: .*var\.x/);
    expect(await asyncRefusal(readTerraformKeyPolicies(key('var.policy')))).toMatch(/^CANNOT_LINT: .*var\.policy/);
    expect(await asyncRefusal(readTerraformKeyPolicies(key('<<EOT\n{"Version": "${local.v}"}\nEOT')))).toMatch(/^CANNOT_LINT/);
    expect(await asyncRefusal(readTerraformKeyPolicies(key('jsonencode({ A = "x", A = "y" })')))).toMatch(/^POLICY_MALFORMED/);
    expect(await asyncRefusal(readTerraformKeyPolicies(key('jsonencode({ A = "x" }')))).toMatch(/^POLICY_MALFORMED/);
    expect(await asyncRefusal(readTerraformKeyPolicies('resource "aws_kms_key" "a" {}\n'))).toMatch(/^CANNOT_LINT: .*default key policy/);
  });

  it('refuses files without a key policy', () => {
    expect(refusal(() => readPolicyFile('{"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}'))).toBe('POLICY_MALFORMED');
    expect(refusal(() => readPolicyFile('{"a": 1}'))).toBe('POLICY_MALFORMED');
    expect(refusal(() => readPolicyFile('{not json'))).toBe('POLICY_MALFORMED');
    expect(refusal(() => readPolicyFile('key: [unclosed'))).toBe('POLICY_MALFORMED');
    expect(refusal(() => readPolicyFile('just text'))).toBe('POLICY_MALFORMED');
    expect(refusal(() => readPolicyFile(' '.repeat(1024 * 1024 + 1)))).toBe('POLICY_TOO_LARGE');
  });
});
