// Output formats of `policy generate`: the raw policy JSON, a CloudFormation template with
// one AWS::KMS::Key per key, or Terraform aws_kms_key resources with
// `policy = jsonencode(...)`. The two IaC formats carry each statement's note as a comment.
import { Document, isMap, isScalar, isSeq, visit } from 'yaml';
import type { DocumentedKeyPolicy } from './generate.ts';
import type { KeyKind } from './types.ts';

export type PolicyFormat = 'json' | 'cloudformation' | 'terraform';
export const POLICY_FORMATS: readonly PolicyFormat[] = ['json', 'cloudformation', 'terraform'];

const LOGICAL_IDS: Record<KeyKind, string> = {
  sops: 'AttestedPackSopsKey',
  envelope: 'AttestedPackEnvelopeKey',
  signing: 'AttestedPackSigningKey',
};

const TERRAFORM_NAMES: Record<KeyKind, string> = {
  sops: 'attested_pack_sops',
  envelope: 'attested_pack_envelope',
  signing: 'attested_pack_signing',
};

function wrap(text: string, width = 96): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** One policy: the bare policy document. Several: an object keyed by key kind. */
export function renderJson(docs: readonly DocumentedKeyPolicy[]): string {
  const value = docs.length === 1 ? docs[0]?.policy : Object.fromEntries(docs.map((d) => [d.kind, d.policy]));
  return `${JSON.stringify(value, null, 2)}\n`;
}

export function renderCloudFormation(docs: readonly DocumentedKeyPolicy[], header: string): string {
  const resources: Record<string, unknown> = {};
  for (const d of docs) {
    const properties: Record<string, unknown> = {
      Description: d.key.description,
      KeySpec: d.key.keySpec,
      KeyUsage: d.key.keyUsage,
    };
    if (d.key.keySpec === 'SYMMETRIC_DEFAULT') properties.EnableKeyRotation = true;
    properties.KeyPolicy = d.policy;
    resources[LOGICAL_IDS[d.kind]] = { Type: 'AWS::KMS::Key', Properties: properties };
  }
  const doc = new Document({ AWSTemplateFormatVersion: '2010-09-09', Description: 'attested-pack KMS keys', Resources: resources });
  // Date-shaped strings ("2012-10-17") stay strings for YAML 1.1 readers too.
  visit(doc, {
    Scalar(_key, node) {
      if (isScalar(node) && typeof node.value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(node.value)) node.type = 'QUOTE_DOUBLE';
    },
  });
  doc.commentBefore = wrap(header).map((l) => ` ${l}`).join('\n');
  for (const d of docs) {
    const statements = doc.getIn(['Resources', LOGICAL_IDS[d.kind], 'Properties', 'KeyPolicy', 'Statement'], true);
    if (!isSeq(statements)) continue;
    statements.items.forEach((item, i) => {
      const sid = d.policy.Statement[i]?.Sid;
      const note = sid === undefined ? undefined : d.notes[sid];
      if (note !== undefined && isMap(item)) item.commentBefore = wrap(note).map((l) => ` ${l}`).join('\n');
    });
  }
  return doc.toString({ lineWidth: 0 });
}

/** HCL string literal: JSON escapes, plus template sequences `${` and `%{` escaped. */
function hclString(s: string): string {
  return JSON.stringify(s).replace(/\$\{/g, '$${').replace(/%\{/g, '%%{');
}

function hclKey(k: string): string {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(k) ? k : hclString(k);
}

function hclValue(v: unknown, indent: string, comments?: readonly (string | undefined)[]): string {
  const inner = `${indent}  `;
  if (typeof v === 'string') return hclString(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    if (comments === undefined && v.every((x) => typeof x === 'string') && v.join(', ').length < 60) {
      return `[${v.map((x) => hclString(x as string)).join(', ')}]`;
    }
    const items = v.map((x, i) => {
      const note = comments?.[i];
      const lead = note === undefined ? '' : wrap(note).map((l) => `${inner}# ${l}\n`).join('');
      return `${lead}${inner}${hclValue(x, inner)},\n`;
    });
    return `[\n${items.join('')}${indent}]`;
  }
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length === 0) return '{}';
  const width = Math.max(...entries.map(([k]) => hclKey(k).length));
  const lines = entries.map(([k, x]) => {
    const value = k === 'Statement' && comments !== undefined ? hclValue(x, inner, comments) : hclValue(x, inner);
    return `${inner}${hclKey(k).padEnd(width)} = ${value}\n`;
  });
  return `{\n${lines.join('')}${indent}}`;
}

export function renderTerraform(docs: readonly DocumentedKeyPolicy[], header: string): string {
  const blocks = docs.map((d) => {
    const notes = d.policy.Statement.map((s) => d.notes[s.Sid]);
    const attrs: Array<[string, string]> = [
      ['description', hclString(d.key.description)],
      ['key_usage', hclString(d.key.keyUsage)],
      ['customer_master_key_spec', hclString(d.key.keySpec)],
    ];
    if (d.key.keySpec === 'SYMMETRIC_DEFAULT') attrs.push(['enable_key_rotation', 'true']);
    const width = Math.max(...attrs.map(([k]) => k.length));
    return [
      `resource "aws_kms_key" "${TERRAFORM_NAMES[d.kind]}" {`,
      ...attrs.map(([k, v]) => `  ${k.padEnd(width)} = ${v}`),
      '',
      `  policy = jsonencode(${hclValue(d.policy, '  ', notes)})`,
      '}',
      '',
    ].join('\n');
  });
  return `${wrap(header).map((l) => `# ${l}`).join('\n')}\n\n${blocks.join('\n')}`;
}

export function renderPolicies(docs: readonly DocumentedKeyPolicy[], format: PolicyFormat, header: string): string {
  if (format === 'cloudformation') return renderCloudFormation(docs, header);
  if (format === 'terraform') return renderTerraform(docs, header);
  return renderJson(docs);
}
