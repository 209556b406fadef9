// Key policies in Terraform, read with HashiCorp's own HCL parser (@cdktn/hcl2json: the Go
// hcl/v2 library compiled to WebAssembly, from the maintained CDK Terrain project) — no
// regular expressions over HCL text, so comments, heredocs and several resources are read
// exactly as `terraform` reads them. What cannot be known without running Terraform
// (variables, locals, data sources, file(), templatefile(), interpolation) is refused as
// CANNOT_LINT naming the expression, never guessed.
import { getExpressionAst, parse, type TFExpressionSyntaxTree } from '@cdktn/hcl2json';
import { policyFail } from './errors.ts';
import { parseStrictJson } from '../verifier/strict-json.ts';

type Node = TFExpressionSyntaxTree.ExpressionType;

export interface TerraformPolicy {
  name: string;
  policy: unknown;
}

/** Resources whose `policy` argument is a key policy (AWS provider). */
const KEY_RESOURCES = ['aws_kms_key', 'aws_kms_replica_key', 'aws_kms_external_key', 'aws_kms_replica_external_key', 'aws_kms_key_policy'];

function cannotLint(where: string, expression: string): never {
  const shown = expression.length > 120 ? `${expression.slice(0, 117)}…` : expression;
  return policyFail('CANNOT_LINT', `${where}: cannot lint the expression ${shown}: its value is only known when Terraform runs (variables, references, functions other than jsonencode, interpolation)`);
}

/** HCL quoted-string escapes (hclsyntax spec, "Template Literals"); heredocs only unescape $${ and %%{. */
function decodeLiteral(raw: string, heredoc: boolean, where: string): string {
  const unmarked = raw.replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{');
  if (heredoc) return unmarked;
  return unmarked.replace(/\\(?:u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|(.))/gs, (_m, u4: string | undefined, u8: string | undefined, c: string | undefined) => {
    if (u4 !== undefined) return String.fromCharCode(parseInt(u4, 16));
    if (u8 !== undefined) return String.fromCodePoint(parseInt(u8, 16));
    const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' };
    const out = simple[c as string];
    if (out === undefined) policyFail('POLICY_MALFORMED', `${where}: unknown escape \\${c} in a Terraform string`);
    return out;
  });
}

/** Object key nodes come back with an empty type; only expressions carry one. */
function isExpression(c: Node): boolean {
  const type = (c as { type?: unknown }).type;
  return typeof type === 'string' && type !== '';
}

function keyName(source: string, where: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(source)) return source;
  if (/^"(?:[^"\\]|\\.)*"$/s.test(source) && !/\$\{|%\{/.test(source.replace(/\$\$\{|%%\{/g, ''))) return decodeLiteral(source.slice(1, -1), false, where);
  return cannotLint(where, source);
}

function objectValue(node: Node, where: string, depth: number): Record<string, unknown> {
  const meta = node.meta as TFExpressionSyntaxTree.ObjectExpressionMeta;
  const entries = Object.entries(meta.items);
  const values = node.children.filter((c) => isExpression(c));
  // The parser's item map keeps one entry per key: fewer entries than values = a repeated key.
  if (values.length !== entries.length) policyFail('POLICY_MALFORMED', `${where}: an object repeats a key`);
  const out: Record<string, unknown> = {};
  const unused = [...entries];
  for (const child of values) {
    const i = unused.findIndex(([, src]) => src.trim() === child.meta.value.trim());
    if (i < 0) policyFail('POLICY_MALFORMED', `${where}: cannot pair an object key with its value`);
    const [keySource] = unused.splice(i, 1)[0] as [string, string];
    const key = keyName(keySource, where);
    if (Object.hasOwn(out, key)) policyFail('POLICY_MALFORMED', `${where}: an object repeats the key "${key}"`);
    out[key] = toValue(child, `${where}.${key}`, depth + 1);
  }
  return out;
}

/** A literal HCL expression → its JSON value (what jsonencode would produce). */
function toValue(node: Node, where: string, depth: number): unknown {
  if (depth > 64) policyFail('POLICY_MALFORMED', `${where}: nested too deeply`);
  const meta = node.meta as { value: string; type?: string; operator?: string };
  switch (node.type) {
    case 'literalValue':
      if (meta.type === 'number') return Number(meta.value);
      if (meta.type === 'bool') return meta.value === 'true';
      if (meta.type === 'dynamic' && meta.value === 'null') return null;
      return cannotLint(where, meta.value);
    case 'template': {
      const parts = node.children.filter((c) => isExpression(c));
      if (parts.length === 0) return '';
      const only = parts[0] as Node;
      if (parts.length !== 1 || only.type !== 'literalValue') return cannotLint(where, meta.value);
      return decodeLiteral(only.meta.value, meta.value.startsWith('<<'), where);
    }
    case 'tuple':
      return node.children.filter((c) => isExpression(c)).map((c, i) => toValue(c, `${where}[${i}]`, depth + 1));
    case 'object':
      return objectValue(node, where, depth);
    case 'unaryOp': {
      const inner = node.children[0];
      if (meta.operator === 'negate' && inner !== undefined && inner.type === 'literalValue' && (inner.meta as { type?: string }).type === 'number') return -Number(inner.meta.value);
      return cannotLint(where, meta.value);
    }
    default:
      return cannotLint(where, meta.value);
  }
}

async function policyValue(value: unknown, where: string): Promise<unknown> {
  if (typeof value !== 'string') return cannotLint(where, JSON.stringify(value));
  const whole = /^\$\{([\s\S]*)\}$/.exec(value);
  if (whole !== null) {
    let ast: Node | null;
    try {
      ast = await getExpressionAst('policy.tf', whole[1] as string);
    } catch {
      return cannotLint(where, value);
    }
    const call = ast?.meta as TFExpressionSyntaxTree.FunctionCallMeta | undefined;
    if (ast === null || ast.type !== 'function' || call?.name !== 'jsonencode' || ast.children.length !== 1) return cannotLint(where, whole[1] as string);
    return toValue(ast.children[0] as Node, where, 0);
  }
  if (/(^|[^$])\$\{|(^|[^%])%\{/.test(value)) return cannotLint(where, value);
  try {
    return parseStrictJson(value.replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{'));
  } catch (e) {
    return policyFail('POLICY_MALFORMED', `${where}: the policy string is not JSON (${(e as Error).message})`);
  }
}

/** Every key policy in a Terraform file, named by resource address. */
export async function readTerraformKeyPolicies(text: string): Promise<TerraformPolicy[]> {
  let doc: Record<string, unknown>;
  try {
    doc = await parse('policy.tf', text);
  } catch (e) {
    return policyFail('POLICY_MALFORMED', `not valid Terraform: ${(e as Error).message.slice(0, 300)}`);
  }
  const resources = (doc.resource ?? {}) as Record<string, Record<string, Array<Record<string, unknown>>>>;
  const withPolicyResource = new Set<string>();
  for (const blocks of Object.values(resources.aws_kms_key_policy ?? {})) {
    for (const b of blocks) if (typeof b.key_id === 'string') withPolicyResource.add(b.key_id.replace(/^\$\{([^.]+\.[^.]+)\..*\}$/, '$1'));
  }
  const out: TerraformPolicy[] = [];
  for (const type of KEY_RESOURCES) {
    for (const [name, blocks] of Object.entries(resources[type] ?? {})) {
      const address = `${type}.${name}`;
      if (blocks.length !== 1) policyFail('POLICY_MALFORMED', `${address} is declared more than once`);
      const block = blocks[0] as Record<string, unknown>;
      if (block.policy === undefined) {
        if (type === 'aws_kms_key_policy' || withPolicyResource.has(address) || type !== 'aws_kms_key') {
          if (type === 'aws_kms_key_policy') policyFail('POLICY_MALFORMED', `${address} has no policy`);
          continue;
        }
        policyFail('CANNOT_LINT', `${address} has no policy and no aws_kms_key_policy: AWS applies its default key policy, which lets every principal the account's IAM policies allow use the key`);
      }
      out.push({ name: address, policy: await policyValue(block.policy, address) });
    }
  }
  // The parser's maps are sorted by name; report in the file's order (order only, never content).
  const at = (name: string): number => {
    const [type, label] = name.split('.');
    return text.search(new RegExp(`resource\\s+"${type}"\\s+"${(label ?? '').replace(/[^\w-]/g, '')}"`));
  };
  return out.sort((a, b) => at(a.name) - at(b.name));
}
