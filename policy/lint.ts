// The key-policy linter: finds policies that fail open (or silently never work) around
// the Nitro Enclaves attestation condition keys. It reasons the way IAM evaluates: an
// explicit Deny wins; a condition key absent from the request makes positive operators
// false and negated ones true; keys in one statement are ANDed. The attestation keys are
// only present when the request carries a Recipient (AWS KMS "Condition keys for Nitro
// Enclaves"), which is why an Allow alone never stops a plain Decrypt.
import type { BuildManifest } from '../verifier/build-manifest.ts';
import { DEBUG_PCR, MAX_PCR_INDEX, PCR_HEX, RECIPIENT_ACTIONS, classifyAttestationKey, measuredPcr, pcr3ForRoleArn } from './attestation-keys.ts';
import { policyFail } from './errors.ts';
import { KMS_ACTIONS, PLAINTEXT_RELEASE_ACTIONS, expandActions } from './kms-actions.ts';
import { LINT_CODES, type LintCode, type LintFinding } from './lint-codes.ts';
import type { NamedPolicy } from './read.ts';
import type { KeyKind } from './types.ts';
import { propertyFindings } from './lint-properties.ts';
import { splitOperator } from './model/parse.ts';

export interface LintOptions {
  /** Expected image PCRs: pinned PCR0/1/2/8 (and ImageSha384) must equal these. */
  manifest?: BuildManifest;
  /** Image rollout: pinned values may also be these manifests' PCRs. */
  additionalManifests?: readonly BuildManifest[];
  /** The enclave's role: kms:* for it is an error, not a warning; the envelope/signing properties need it. */
  enclaveRoleArn?: string;
  /**
   * Which key the policy is for (what lint proves depends on it). Otherwise taken from the
   * policy's name or Id as generate writes them, or sops when it names attestation keys;
   * when none of these says, lint refuses (CANNOT_LINT) rather than guess.
   */
  key?: KeyKind;
}

interface Clause {
  operator: string;
  /** Lowercase operator without set qualifier and IfExists. */
  base: string;
  qualifier: 'forallvalues' | 'foranyvalue' | null;
  ifExists: boolean;
  key: string;
  values: unknown[];
}

interface Statement {
  index: number;
  sid: string | null;
  effect: 'Allow' | 'Deny';
  anyPrincipal: boolean;
  principals: string[];
  notPrincipal: boolean;
  actionPatterns: string[];
  notAction: boolean;
  /** Known KMS actions the statement covers (NotAction expanded to its complement). */
  actions: Set<string>;
  clauses: Clause[];
}

const POSITIVE_STRING_OPS = new Set(['stringequals', 'stringequalsignorecase', 'stringlike']);
const NEGATED_STRING_OPS = new Set(['stringnotequals', 'stringnotequalsignorecase', 'stringnotlike']);
const IMAGE_PCRS = new Set([0, 1, 2, 8]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [v];
}

function strings(v: unknown, where: string): string[] {
  return asList(v).map((x) => {
    if (typeof x !== 'string') policyFail('POLICY_MALFORMED', `${where} must be a string or a list of strings`);
    return x;
  });
}

function normalise(policy: unknown, name: string): Statement[] {
  if (!isRecord(policy)) policyFail('POLICY_MALFORMED', `${name}: a key policy must be a JSON object`);
  if (policy.Statement === undefined) policyFail('POLICY_MALFORMED', `${name}: the policy has no Statement`);
  const raw = asList(policy.Statement);
  if (raw.length === 0) policyFail('POLICY_MALFORMED', `${name}: the policy has no Statement`);
  return raw.map((s, index): Statement => {
    const where = `${name}: Statement[${index}]`;
    if (!isRecord(s)) policyFail('POLICY_MALFORMED', `${where} must be an object`);
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') policyFail('POLICY_MALFORMED', `${where}.Effect must be "Allow" or "Deny"`);
    const principalValue = s.Principal ?? s.NotPrincipal;
    if (principalValue === undefined) policyFail('POLICY_MALFORMED', `${where} has no Principal (key policies need one)`);
    let anyPrincipal = false;
    const principals: string[] = [];
    if (principalValue === '*') anyPrincipal = true;
    else if (isRecord(principalValue)) {
      for (const [type, v] of Object.entries(principalValue)) {
        for (const p of strings(v, `${where}.Principal.${type}`)) {
          if (p === '*') anyPrincipal = true;
          else principals.push(p);
        }
      }
    } else policyFail('POLICY_MALFORMED', `${where}.Principal must be "*" or an object`);
    const actionValue = s.Action ?? s.NotAction;
    if (actionValue === undefined) policyFail('POLICY_MALFORMED', `${where} has no Action`);
    const actionPatterns = strings(actionValue, `${where}.Action`);
    const notAction = s.Action === undefined;
    const expanded = new Set(expandActions(actionPatterns));
    const actions = notAction ? new Set(KMS_ACTIONS.filter((a) => !expanded.has(a))) : expanded;
    const clauses: Clause[] = [];
    if (s.Condition !== undefined) {
      if (!isRecord(s.Condition)) policyFail('POLICY_MALFORMED', `${where}.Condition must be an object`);
      for (const [operator, block] of Object.entries(s.Condition)) {
        if (!isRecord(block)) policyFail('POLICY_MALFORMED', `${where}.Condition.${operator} must be an object`);
        const { base, qualifier, ifExists } = splitOperator(operator);
        for (const [key, v] of Object.entries(block)) clauses.push({ operator, base, qualifier, ifExists, key, values: asList(v) });
      }
    }
    return {
      index,
      sid: typeof s.Sid === 'string' && s.Sid !== '' ? s.Sid : null,
      effect: s.Effect,
      anyPrincipal,
      principals,
      notPrincipal: s.Principal === undefined,
      actionPatterns,
      notAction,
      actions,
      clauses,
    };
  });
}

function short(v: string): string {
  return v.length > 20 ? `${v.slice(0, 8)}…${v.slice(-8)}` : v;
}

/** The PCR values a statement pins per measured index (ImageSha384 counts as PCR0). */
function pins(st: Statement, ops: Set<string>): Map<number, Set<string>> {
  const out = new Map<number, Set<string>>();
  for (const c of st.clauses) {
    const idx = measuredPcr(c.key);
    if (idx === undefined || !ops.has(c.base)) continue;
    const set = out.get(idx) ?? new Set<string>();
    for (const v of c.values) if (typeof v === 'string') set.add(v.toLowerCase());
    out.set(idx, set);
  }
  return out;
}

function attestationClauses(st: Statement): Clause[] {
  return st.clauses.filter((c) => classifyAttestationKey(c.key) !== undefined);
}

/** An Allow gated on a positive string comparison of an enclave measurement. */
function isAttestedAllow(st: Statement): boolean {
  return st.effect === 'Allow' && pins(st, POSITIVE_STRING_OPS).size > 0;
}

type DenyMatch = 'full' | 'flawed' | 'none';

/** A Deny that pins attestation but names principals or adds other conditions (KP017/KP024). */
function isFlawedAttestationDeny(deny: Statement): boolean {
  if (deny.effect !== 'Deny' || attestationClauses(deny).length === 0) return false;
  return !deny.anyPrincipal || deny.notPrincipal || deny.clauses.some((c) => classifyAttestationKey(c.key) === undefined);
}

/**
 * Does `deny` stop `action` whenever PCR `index` is not one of `allowed`? It must cover the
 * action, apply to every principal, carry no condition other than attestation ones (any
 * other condition could switch it off), compare this PCR with a negated operator, and exempt
 * no value the Allow does not. 'flawed': it would, but for a defect reported on the Deny
 * itself (KP017, KP024). A Deny combining several attestation keys is reported as KP016.
 */
function denyCovers(deny: Statement, action: string, index: number, allowed: Set<string>): DenyMatch {
  if (deny.effect !== 'Deny' || !deny.actions.has(action)) return 'none';
  const clause = deny.clauses.find((c) => measuredPcr(c.key) === index && NEGATED_STRING_OPS.has(c.base) && c.qualifier === null);
  if (clause === undefined) return 'none';
  const exempt = clause.values.map((v) => (typeof v === 'string' ? v.toLowerCase() : ''));
  if (!exempt.every((v) => allowed.has(v))) return 'none';
  return isFlawedAttestationDeny(deny) ? 'flawed' : 'full';
}

function protectedAction(statements: Statement[], action: string): boolean {
  return statements.some((d) => {
    if (d.effect !== 'Deny' || !d.actions.has(action) || !d.anyPrincipal || d.notPrincipal) return false;
    if (d.clauses.some((c) => classifyAttestationKey(c.key) === undefined)) return false;
    return d.clauses.some((c) => measuredPcr(c.key) !== undefined && NEGATED_STRING_OPS.has(c.base) && c.qualifier === null);
  });
}

/** Lint one key policy. Throws PolicyError POLICY_MALFORMED when it is not a policy at all. */
type AddFinding = (code: LintCode, st: Statement | null, message: string, fix: string) => void;

/** One lint run over one policy: its statements, the options, and where findings go. */
interface LintRun {
  name: string;
  statements: Statement[];
  options: LintOptions;
  findings: LintFinding[];
  add: AddFinding;
  decryptAllowed: boolean;
}

function label(st: Statement): string {
  return st.sid === null ? `Statement[${st.index}]` : `"${st.sid}"`;
}

function checkSids(run: LintRun): void {
  const { add, options, statements } = run;
  const seen = new Map<string, number>();
  for (const st of statements) {
    if (st.sid === null) add('KP015', st, `Statement[${st.index}] has no Sid`, 'give every statement a Sid that says why it exists');
    else if (seen.has(st.sid)) add('KP015', st, `Sid "${st.sid}" is also used by Statement[${seen.get(st.sid)}]`, 'make every Sid unique');
    else seen.set(st.sid, st.index);
  }
}

function checkPrincipalsAndActions(run: LintRun, st: Statement): void {
  const { add, options, statements } = run;
  const where = label(st);
  // Principals and actions
  if (st.effect === 'Allow' && st.anyPrincipal) {
    add('KP008', st, `${where} allows any principal ("*")`, 'name the IAM roles that need the key; use Principal "*" only in Deny statements');
  }
  if (st.effect === 'Allow' && (st.notAction || st.notPrincipal)) {
    add('KP020', st, `${where} uses ${st.notAction ? 'NotAction' : 'NotPrincipal'} in an Allow, granting everything not listed`, 'list the allowed actions and principals explicitly');
  }
  const allActions = !st.notAction && st.actions.size === KMS_ACTIONS.length;
  if (st.effect === 'Allow' && allActions) {
    const attested = attestationClauses(st).length > 0;
    const forRole = options.enclaveRoleArn !== undefined && st.principals.includes(options.enclaveRoleArn);
    if (attested || forRole) {
      add('KP009', st, `${where} grants ${st.actionPatterns.join(', ')} ${forRole ? 'to the enclave role' : 'in an attested statement'}`, 'grant the enclave role only the operations it calls (kms:Decrypt for the SOPS key)');
    } else {
      add('KP022', st, `${where} grants ${st.actionPatterns.join(', ')} to ${st.anyPrincipal ? '*' : st.principals.join(', ')}`, 'grant explicit actions; administrators get administrative actions only');
    }
  }
}

/** One attestation clause: the key, the operator and its polarity. */
function checkAttestationClause(run: LintRun, st: Statement, c: Clause): void {
  const { add } = run;
  const where = label(st);
  const cls = classifyAttestationKey(c.key);
  if (cls === undefined) return;
  const at = `${where} ${c.operator} ${c.key}`;
  if (cls.kind === 'nitrotpm') {
    add('KP013', st, `${at}: NitroTPM keys are never present for a Nitro Enclave document`, 'use kms:RecipientAttestation:PCR<n> (or ImageSha384) for enclaves');
  } else if (cls.kind === 'unknown') {
    add('KP013', st, `${at}: not an AWS KMS attestation condition key`, 'use kms:RecipientAttestation:ImageSha384 or kms:RecipientAttestation:PCR<n>');
  } else if (cls.kind === 'pcr' && cls.index > MAX_PCR_INDEX) {
    add('KP013', st, `${at}: an attestation document has no PCR${cls.index}`, 'pin PCR0, 1, 2 (image), 3 (role), 4 (instance) or 8 (signing certificate)');
  }
  if (c.qualifier !== null) {
    add('KP019', st, `${at}: attestation keys are single-valued; ${c.qualifier === 'forallvalues' ? 'ForAllValues is true when the key is missing' : 'ForAnyValue changes the semantics'}`, 'drop the set qualifier: use StringEqualsIgnoreCase / StringNotEqualsIgnoreCase');
  }
  if (c.ifExists) {
    const why = st.effect === 'Allow'
      ? '…IfExists is true when the key is missing, so this Allow admits any request without a Recipient'
      : '…IfExists makes the outcome for requests without a Recipient depend on the operator, not on the pinned value';
    add('KP004', st, `${at}: ${why}`, 'use the operator without IfExists');
  }
  if (c.base === 'stringequals' || c.base === 'stringnotequals') {
    add('KP002', st, `${at}: compares hex case-sensitively`, `use ${c.base === 'stringequals' ? 'StringEqualsIgnoreCase' : 'StringNotEqualsIgnoreCase'}, as the AWS KMS documentation advises`);
  } else if (c.base === 'stringlike' || c.base === 'stringnotlike') {
    add('KP003', st, `${at}: wildcard matching of a measurement`, 'pin the exact value with StringEqualsIgnoreCase / StringNotEqualsIgnoreCase');
  } else if (c.base === 'bool') {
    add('KP006', st, `${at}: Bool on a hex-valued key never means "attested"`, 'compare the value with StringEqualsIgnoreCase');
  } else if (c.base !== 'null' && c.base !== 'stringequalsignorecase' && c.base !== 'stringnotequalsignorecase') {
    add('KP014', st, `${at}: attestation keys are strings`, 'use StringEqualsIgnoreCase / StringNotEqualsIgnoreCase');
  }
  if (st.effect === 'Allow' && NEGATED_STRING_OPS.has(c.base)) {
    add('KP026', st, `${at}: a negated comparison in an Allow is true for every other image and when the key is missing`, 'allow with StringEqualsIgnoreCase; put StringNotEqualsIgnoreCase in the Deny');
  } else if (st.effect === 'Deny' && POSITIVE_STRING_OPS.has(c.base)) {
    add('KP026', st, `${at}: a positive comparison in a Deny denies the pinned image and lets every other one through`, 'deny with StringNotEqualsIgnoreCase; put StringEqualsIgnoreCase in the Allow');
  }
  checkAttestationValues(run, st, c, at);
}

/** The pinned values of one attestation clause: shape, debug zeros, case, manifest, PCR3/PCR4. */
function checkAttestationValues(run: LintRun, st: Statement, c: Clause, at: string): void {
  const { add, options } = run;
  const idx = measuredPcr(c.key);
  if (idx === undefined || c.base === 'null' || c.base === 'bool' || c.base === 'stringlike' || c.base === 'stringnotlike') return;
  for (const v of c.values) {
    if (typeof v !== 'string' || !PCR_HEX.test(v)) {
      add('KP011', st, `${at}: value ${JSON.stringify(v)} is not 96 hexadecimal characters`, 'paste the full SHA-384 PCR value in lowercase hex');
      continue;
    }
    const lower = v.toLowerCase();
    if (lower === DEBUG_PCR) {
      add('KP007', st, `${at}: all zeros is what a debug-mode enclave reports`, 'pin the production image PCRs from the build manifest; never pin zeros');
      continue;
    }
    if (v !== lower) add('KP012', st, `${at}: value ${short(v)} has uppercase hex`, 'write PCR values in lowercase');
    if (idx === 4 && st.effect === 'Allow') {
      add('KP029', st, `${at}: PCR4 is the parent instance id; a replaced or added instance (Auto Scaling) cannot decrypt`, 'pin PCR3 (the instance role) instead of PCR4 unless one fixed instance is intended');
    }
    if (idx === 3 && options.enclaveRoleArn !== undefined && lower !== pcr3ForRoleArn(options.enclaveRoleArn)) {
      add('KP028', st, `${at}: ${short(lower)} is not PCR3 of ${options.enclaveRoleArn} (SHA-384 of 48 zero bytes ‖ ARN); right only if the parent's instance-profile role is another role`, 'regenerate with policy generate --pcr3 <parent instance-profile role ARN>');
    }
    if (options.manifest !== undefined && IMAGE_PCRS.has(idx)) {
      const key = String(idx) as '0' | '1' | '2' | '8';
      const expected = options.manifest.pcrs[key];
      const alsoAllowed = (options.additionalManifests ?? []).map((m) => m.pcrs[key]?.toLowerCase());
      if (expected === undefined) {
        add('KP010', st, `${at}: pins PCR${idx} but the build manifest has none (unsigned EIF)`, 'remove the PCR8 condition or sign the EIF');
      } else if (expected.toLowerCase() !== lower && !alsoAllowed.includes(lower)) {
        add('KP010', st, `${at}: ${short(lower)} is not the manifest's PCR${idx} ${short(expected)}`, 'regenerate the policy from the published build manifest');
      }
    }
  }
}

function checkNullClauses(run: LintRun, st: Statement): void {
  const { add } = run;
  const where = label(st);
  for (const c of st.clauses) {
    if (c.base !== 'null' || classifyAttestationKey(c.key) === undefined) continue;
    const wantsAbsent = c.values.some((v) => String(v).toLowerCase() === 'true');
    const at = `${where} Null ${c.key}`;
    if (st.effect === 'Allow' && wantsAbsent) {
      add('KP006', st, `${at} = true allows exactly the requests WITHOUT an attestation`, 'compare the value with StringEqualsIgnoreCase instead');
    } else if (st.effect === 'Allow' && pins(st, POSITIVE_STRING_OPS).size === 0) {
      add('KP006', st, `${at} = false only checks that some attestation is present: any enclave image passes`, 'pin the image PCRs with StringEqualsIgnoreCase');
    } else if (st.effect === 'Deny' && !wantsAbsent) {
      add('KP006', st, `${at} = false denies every attested request`, 'deny with StringNotEqualsIgnoreCase on the pinned value instead');
    }
  }
}

function checkAttestationDeny(run: LintRun, st: Statement): void {
  const { add } = run;
  const where = label(st);
  if (st.effect === 'Deny' && attestationClauses(st).length > 0) {
    if (!st.anyPrincipal || st.notPrincipal) {
      add('KP017', st, `${where} pins attestation only for ${st.notPrincipal ? 'principals outside NotPrincipal' : st.principals.join(', ')}; every other principal can still call without attestation`, 'use Principal "*" in the attestation Deny');
    }
    const others = st.clauses.filter((c) => classifyAttestationKey(c.key) === undefined);
    if (others.length > 0) {
      add('KP024', st, `${where} also requires ${others.map((c) => `${c.operator} ${c.key}`).join(', ')}, so it does not deny requests where that does not hold`, 'keep attestation Deny statements free of other conditions');
    }
  }
  if (st.effect === 'Deny' && attestationClauses(st).length > 0 && !st.actions.has('kms:Decrypt') && run.decryptAllowed) {
    add('KP025', st, `${where} pins attestation but not for kms:Decrypt, which the policy allows: that PCR is not enforced where it matters`, 'include kms:Decrypt (and kms:ReEncryptFrom) in every attestation Deny');
  }
  if (st.effect === 'Deny' && attestationClauses(st).length > 1) {
    add('KP016', st, `${where} has ${attestationClauses(st).length} attestation conditions; conditions are ANDed, so it only denies when every one fails`, 'write one Deny statement per pinned PCR');
  }
}

/** Attested Allow: actions, measurements, and the Deny that must back it. */
function checkAttestedAllow(run: LintRun, st: Statement): void {
  const { add, options, statements } = run;
  const where = label(st);
  if (!isAttestedAllow(st)) return;
  const deadActions = st.notAction ? [] : st.actionPatterns.filter((a) => !/[*?]/.test(a) && !RECIPIENT_ACTIONS.some((r) => r.toLowerCase() === a.toLowerCase()));
  if (deadActions.length > 0) {
    add('KP005', st, `${where}: ${deadActions.join(', ')} never carry a Recipient, so the attestation condition can never hold for them`, 'move those actions to their own statement without attestation conditions (they cannot be attested)');
  }
  const pinned = pins(st, POSITIVE_STRING_OPS);
  if (![...pinned.keys()].some((i) => IMAGE_PCRS.has(i))) {
    add('KP021', st, `${where} pins only PCR${[...pinned.keys()].join('/')}: any enclave image on that instance/role passes`, 'also pin PCR0, 1 and 2 (or PCR8 for a signed EIF)');
  }
  const gated = [...st.actions].filter((a) => RECIPIENT_ACTIONS.includes(a));
  for (const [index, allowed] of pinned) {
    const missing: string[] = [];
    for (const action of gated) {
      const matches = statements.map((d) => denyCovers(d, action, index, allowed));
      // A flawed Deny is already reported on the Deny itself.
      if (!matches.includes('full') && !matches.includes('flawed')) missing.push(action);
    }
    if (missing.length > 0) {
      add('KP001', st, `${where} pins PCR${index} for ${missing.join(', ')} but no Deny stops those calls when PCR${index} is missing or different; any principal with access elsewhere (IAM, grants, other statements) can call without a Recipient`, `add {"Effect":"Deny","Principal":"*","Action":${JSON.stringify(missing)},"Condition":{"StringNotEqualsIgnoreCase":{"kms:RecipientAttestation:PCR${index}":"<value>"}}}`);
    }
  }
}

function checkEnclaveRoleAdministers(run: LintRun): void {
  const { add, options, statements } = run;
  // The enclave role's credentials live on the parent instance: if that role may rewrite
  // the policy or create grants, the host can remove the attestation requirement.
  const enclavePrincipals = new Set<string>(options.enclaveRoleArn === undefined ? [] : [options.enclaveRoleArn]);
  for (const st of statements) if (isAttestedAllow(st)) for (const p of st.principals) enclavePrincipals.add(p);
  for (const st of statements) {
    if (st.effect !== 'Allow' || st.notAction || st.actions.size === KMS_ACTIONS.length) continue;
    const who = st.principals.filter((p) => enclavePrincipals.has(p));
    const risky = ['kms:PutKeyPolicy', 'kms:CreateGrant'].filter((a) => st.actions.has(a));
    if (who.length > 0 && risky.length > 0) {
      add('KP023', st, `${label(st)} lets the enclave role ${who.join(', ')} call ${risky.join(', ')}: whoever holds its credentials (the parent instance) can lift the attestation requirement`, 'give policy administration to a separate admin principal, never to the enclave role');
    }
  }
}

function checkEnforcedImage(run: LintRun): void {
  const { add, options, statements } = run;
  // What the Deny statements really enforce for Decrypt must include the image, or any
  // image (a debug one included) on the right instance/role passes.
  if (run.decryptAllowed) {
    const enforced = new Set<number>();
    let first: Statement | undefined;
    for (const d of statements) {
      if (d.effect !== 'Deny' || !d.actions.has('kms:Decrypt') || isFlawedAttestationDeny(d)) continue;
      for (const c of d.clauses) {
        const idx = measuredPcr(c.key);
        if (idx !== undefined && NEGATED_STRING_OPS.has(c.base) && c.qualifier === null) {
          enforced.add(idx);
          first ??= d;
        }
      }
    }
    if (first !== undefined && ![...enforced].some((i) => IMAGE_PCRS.has(i)) && !run.findings.some((f) => f.code === 'KP021')) {
      add('KP021', first, `the Deny statements enforce only PCR${[...enforced].join('/')} for Decrypt: any enclave image on that instance/role passes`, 'also deny unless PCR0, 1 and 2 (or PCR8) match');
    }
  }
}

function checkRoleDecrypt(run: LintRun): void {
  const { add, options, statements } = run;
  // With --role: the enclave role's Decrypt must depend on attestation somewhere.
  const role = options.enclaveRoleArn;
  if (role !== undefined && !protectedAction(statements, 'kms:Decrypt')) {
    const account = /^arn:[^:]+:iam::(\d{12}):/.exec(role)?.[1];
    const coversRole = (st: Statement): boolean =>
      st.principals.some((p) => p === role || (account !== undefined && (p === account || new RegExp(`^arn:[^:]+:iam::${account}:root$`).test(p))));
    for (const st of statements) {
      // Statements with attestation conditions, or kms:* for the role itself (KP009), are
      // reported by their own codes; kms:* for the account root is this problem too.
      if (st.effect !== 'Allow' || attestationClauses(st).length > 0 || !st.actions.has('kms:Decrypt') || !coversRole(st)) continue;
      if (!st.notAction && st.actions.size === KMS_ACTIONS.length && st.principals.includes(role)) continue;
      add('KP027', st, `${label(st)} lets the enclave role ${role} Decrypt with no attestation condition and no attestation Deny`, 'allow Decrypt only with StringEqualsIgnoreCase on the image PCRs, backed by one Deny per PCR (policy generate --key sops)');
    }
  }
}

function checkUnattestedRelease(run: LintRun): void {
  const { add, options, statements } = run;
  // Unattested plaintext release next to attested Decrypt.
  const attestedDecrypt = statements.some((st) => isAttestedAllow(st) && st.actions.has('kms:Decrypt'));
  if (attestedDecrypt) {
    for (const st of statements) {
      if (st.effect !== 'Allow' || attestationClauses(st).length > 0) continue;
      const open = PLAINTEXT_RELEASE_ACTIONS.filter((a) => st.actions.has(a) && !protectedAction(statements, a));
      if (open.length > 0) {
        add('KP018', st, `${label(st)} allows ${open.join(', ')} without attestation and no Deny stops it, although this key gates Decrypt on attestation`, 'remove those actions (administrators get administrative actions only) or add an attestation Deny covering them');
      }
    }
  }
}

/** Lint one key policy. Throws PolicyError POLICY_MALFORMED when it is not a policy at all. */
export function lintKeyPolicy(policy: unknown, options: LintOptions = {}, name = 'policy'): LintFinding[] {
  const statements = normalise(policy, name);
  const findings: LintFinding[] = [];
  const add: AddFinding = (code, st, message, fix) => {
    findings.push({ code, severity: LINT_CODES[code].severity, policy: name, statement: st === null ? null : { index: st.index, sid: st.sid }, message, fix });
  };
  const decryptAllowed = statements.some((st) => st.effect === 'Allow' && st.actions.has('kms:Decrypt'));
  const run: LintRun = { name, statements, options, findings, add, decryptAllowed };
  checkSids(run);
  for (const st of statements) {
    checkPrincipalsAndActions(run, st);
    for (const c of st.clauses) checkAttestationClause(run, st, c);
    checkNullClauses(run, st);
    checkAttestationDeny(run, st);
    checkAttestedAllow(run, st);
  }
  checkEnclaveRoleAdministers(run);
  checkEnforcedImage(run);
  checkRoleDecrypt(run);
  checkUnattestedRelease(run);
  findings.push(...propertyFindings(policy, options, name));
  return findings.sort((a, b) => (a.statement?.index ?? -1) - (b.statement?.index ?? -1));
}


/** Lint every policy found in a file. */
export function lintPolicies(policies: readonly NamedPolicy[], options: LintOptions = {}): LintFinding[] {
  return policies.flatMap((p) => lintKeyPolicy(p.policy, options, p.name));
}

export function hasErrors(findings: readonly LintFinding[]): boolean {
  return findings.some((f) => f.severity === 'error');
}
