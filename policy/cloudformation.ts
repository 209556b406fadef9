// Key policies in CloudFormation templates (JSON or YAML). YAML short-form intrinsics
// (!Ref, !Sub, !GetAtt, …) are read as the long form they stand for ({"Ref": …},
// {"Fn::Sub": …}), never as their plain argument. An intrinsic lint can decide without a
// stack (Fn::Sub with no ${…}, Fn::Join of literals) is resolved; any other is refused as
// CANNOT_LINT naming it — a Ref to a parameter could be any principal.
import { parseDocument, type Tags } from 'yaml';
import { policyFail } from './errors.ts';

const SHORT_TAGS = ['Ref', 'Condition', 'Base64', 'Cidr', 'FindInMap', 'GetAtt', 'GetAZs', 'ImportValue', 'Join', 'Select', 'Split', 'Sub', 'Transform', 'And', 'Equals', 'If', 'Not', 'Or', 'ToJsonString', 'Length'];

function longName(tag: string): string {
  return tag === 'Ref' || tag === 'Condition' ? tag : `Fn::${tag}`;
}

/** The custom tags for the yaml library: every short form, on scalars, sequences and maps. */
export const CLOUDFORMATION_TAGS: Tags = SHORT_TAGS.flatMap((name) =>
  (['scalar', 'seq', 'map'] as const).map((collection) => ({
    tag: `!${name}`,
    ...(collection === 'scalar' ? {} : { collection }),
    // GetAtt's short form is "Resource.Attribute".
    resolve: (value: unknown) => {
      const plain = typeof value === 'object' && value !== null && 'toJSON' in value ? (value as { toJSON(): unknown }).toJSON() : value;
      return { [longName(name)]: name === 'GetAtt' && typeof plain === 'string' ? plain.split('.') : plain };
    },
  })) as Tags,
);

/** YAML with CloudFormation tags; any YAML error or warning (duplicate key, unknown tag) is a refusal. */
export function parseCloudFormationYaml(text: string): unknown {
  const doc = parseDocument(text, { customTags: CLOUDFORMATION_TAGS, uniqueKeys: true, prettyErrors: false });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem !== undefined) policyFail('POLICY_MALFORMED', `not valid YAML: ${problem.message.split('\n')[0] ?? ''}`);
  return doc.toJS({ maxAliasCount: 100 });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function intrinsicName(v: Record<string, unknown>): string | undefined {
  const keys = Object.keys(v);
  const only = keys[0];
  return keys.length === 1 && only !== undefined && (only === 'Ref' || only === 'Condition' || only.startsWith('Fn::')) ? only : undefined;
}

/** Replace the intrinsics lint can decide without a stack; refuse the others. */
export function resolveIntrinsics(value: unknown, where: string, depth = 0): unknown {
  if (depth > 64) policyFail('POLICY_MALFORMED', `${where}: nested too deeply`);
  if (Array.isArray(value)) return value.map((v, i) => resolveIntrinsics(v, `${where}[${i}]`, depth + 1));
  if (!isRecord(value)) return value;
  const fn = intrinsicName(value);
  if (fn === undefined) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveIntrinsics(v, `${where}.${k}`, depth + 1)]));
  const arg = resolveIntrinsics(value[fn], `${where}.${fn}`, depth + 1);
  if (fn === 'Fn::Sub' && typeof arg === 'string' && !/\$\{(?!!)/.test(arg)) return arg.replace(/\$\{!/g, '${');
  if (fn === 'Fn::Join' && Array.isArray(arg) && typeof arg[0] === 'string' && Array.isArray(arg[1]) && arg[1].every((x) => typeof x === 'string')) {
    return (arg[1] as string[]).join(arg[0]);
  }
  return policyFail('CANNOT_LINT', `${where}: cannot lint ${fn} ${JSON.stringify(value[fn]).slice(0, 120)}: its value is only known when the stack is deployed`);
}
