import { describe, expect, it } from 'vitest';
import { AuthzError } from './errors.ts';
import { MAX_REPO_RULES_BYTES, parseRepoRules, ruleFor } from './repo-rules.ts';
import { REPO_RULES_YAML } from './test-support.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function refused(text: string | Uint8Array, m: RegExp): void {
  try {
    parseRepoRules(typeof text === 'string' ? enc(text) : text);
  } catch (e) {
    expect(e).toBeInstanceOf(AuthzError);
    expect((e as AuthzError).code).toBe('PACK_UNAUTHORIZED');
    expect((e as Error).message).toMatch(m);
    return;
  }
  throw new Error('expected a refusal');
}

describe('parseRepoRules', () => {
  it('parses identities, environments and rules', () => {
    const r = parseRepoRules(enc(REPO_RULES_YAML));
    expect(ruleFor(r, 'payments-api', 'production')).toEqual({
      jobWorkflowRefs: ['org/app/.github/workflows/deploy.yml@refs/heads/main'],
      ciConfigRefUris: ['gitlab.example.com/group/sub/app//.gitlab-ci.yml@refs/heads/main'],
      deploymentEnvironments: ['production'],
    });
    expect(ruleFor(r, 'web', 'dev')).toEqual({ jobWorkflowRefs: [], ciConfigRefUris: [], deploymentEnvironments: null });
  });

  it('an empty (null) rule is allowed and allows no workflow', () => {
    expect(ruleFor(parseRepoRules(enc('version: 1\nidentities:\n  web:\n    dev:\n')), 'web', 'dev').jobWorkflowRefs).toEqual([]);
  });

  it('no rule for an identity or environment is PACK_UNAUTHORIZED', () => {
    const r = parseRepoRules(enc(REPO_RULES_YAML));
    expect(() => ruleFor(r, 'billing', 'production')).toThrow(/no rule for identity "billing"/);
    expect(() => ruleFor(r, 'web', 'production')).toThrow(/no rule/);
    expect(() => ruleFor(r, 'constructor', 'production')).toThrow(/no rule/);
  });

  it('refusals', () => {
    refused(new Uint8Array(MAX_REPO_RULES_BYTES + 1), /larger than/);
    refused(new Uint8Array([0xff]), /UTF-8/);
    refused('\ufeffversion: 1\nidentities: {}\n', /byte order mark/);
    refused('version: 1\nversion: 1\nidentities: {}\n', /not strict YAML/);
    refused('version: 1\nidentities:\n  web:\n    dev: {}\n  web:\n    dev: {}\n', /not strict YAML/);
    refused('version: 1\nidentities:\n  a: &x\n    dev: {}\n  b: *x\n', /cannot be read|alias/i);
    refused('version: 2\nidentities: {}\n', /version must be 1/);
    refused('version: 1\n', /identities must be a map/);
    refused('- 1\n', /document must be a map/);
    refused('version: 1\nidentities: {}\nextra: 1\n', /unknown key "extra"/);
    refused('version: 1\nidentities:\n  Web:\n    dev: {}\n', /not a valid identity name/);
    refused('version: 1\nidentities:\n  web:\n    Dev: {}\n', /not a valid environment name/);
    refused('version: 1\nidentities:\n  web:\n    dev:\n      workflows: []\n', /unknown key "workflows"/);
    refused('version: 1\nidentities:\n  web:\n    dev:\n      jobWorkflowRefs: ["org/app/.github/workflows/*@refs/heads/main"]\n', /no wildcards/);
    refused('version: 1\nidentities:\n  web:\n    dev:\n      jobWorkflowRefs: ["org/app/.github/workflows/d.yml@refs/heads/*"]\n', /no wildcards/);
    refused('version: 1\nidentities:\n  web:\n    dev:\n      jobWorkflowRefs: "org/app/.github/workflows/d.yml@refs/heads/main"\n', /must be a list/);
    refused('version: 1\nidentities:\n  web:\n    dev:\n      jobWorkflowRefs: []\n', /must be a list of 1/);
    refused('version: 1\nidentities:\n  web:\n    dev:\n      jobWorkflowRefs: [5]\n', /exact string/);
    refused('version: 1\nidentities:\n  web:\n    dev:\n      deploymentEnvironments: ["a", "a"]\n', /repeats/);
    refused('version: 1\nidentities:\n  web:\n    dev:\n      deploymentEnvironments: ["prod*"]\n', /no wildcards/);
    refused('version: 1\nidentities: !!set {a}\n', /not strict YAML|must be a map|cannot be read/);
    refused('version: 1\nidentities: [\n', /not strict YAML/);
    const many = Array.from({ length: 65 }, (_, i) => `    e${i}: {}\n`).join('');
    refused(`version: 1\nidentities:\n  web:\n${many}`, /more than 64 entries/);
  });
});
