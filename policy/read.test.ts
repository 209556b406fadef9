import { describe, expect, it } from 'vitest';
import { readPolicyFile } from './read.ts';
import { readTerraformKeyPolicies } from './hcl.ts';
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

  it('reads Terraform aws_kms_key policy = jsonencode(...) literals with comments and escapes', () => {
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
    const found = readPolicyFile(tf);
    expect(found.map((f) => f.name)).toEqual(['aws_kms_key.a', 'aws_kms_key.b']);
    expect(found[0]?.policy).toEqual(policy);
    expect(found[1]?.policy).toEqual({
      Statement: [{ Sid: 'BA', Effect: 'Deny', Principal: '*', Action: ['kms:Decrypt'], Resource: '*', Condition: { Null: { 'x:y': 'true', n: 1, ok: true, z: null } } }],
      Version: '${v}',
    });
  });

  it('refuses Terraform it cannot read literally', () => {
    expect(refusal(() => readTerraformKeyPolicies('resource "aws_kms_key" "a" {\n  policy = data.aws_iam_policy_document.x.json\n}\n'))).toBe('POLICY_MALFORMED');
    expect(refusal(() => readTerraformKeyPolicies('resource "aws_kms_key" "a" {\n  policy = jsonencode({ Version = "${var.v}" })\n}\n'))).toBe('POLICY_MALFORMED');
    expect(refusal(() => readTerraformKeyPolicies('resource "aws_kms_key" "a" {\n  policy = jsonencode({ A = "x", A = "y" })\n}\n'))).toBe('POLICY_MALFORMED');
    expect(refusal(() => readTerraformKeyPolicies('resource "aws_kms_key" "a" {\n  policy = jsonencode({ A = var.x })\n}\n'))).toBe('POLICY_MALFORMED');
    expect(refusal(() => readTerraformKeyPolicies('resource "aws_kms_key" "a" {\n  policy = jsonencode({ A = "x" }\n}\n'))).toBe('POLICY_MALFORMED');
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
