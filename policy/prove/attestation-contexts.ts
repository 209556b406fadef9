// Attestation contexts lint tries for the actions that accept a Recipient. KMS sets
// kms:RecipientAttestation:PCR<n> for the document's PCRs (lowercase hex) and ImageSha384 =
// PCR0; without a Recipient none of these keys exists. A NitroTPM document brings only the
// NitroTPMPCR<n> keys.
import { policyFail } from '../errors.ts';
import { clauseHolds, type ModelPolicy } from '../model/index.ts';
import { DEBUG_PCR, WRONG_PCR, type AttestationContext } from './contexts.ts';

/** Beyond this many distinct PCR combinations lint refuses to judge (CANNOT_LINT). */
const MAX_PRODUCT = 4096;

/** A 96-hex-digit value a wildcard pattern matches (KMS reports PCRs as 96 lowercase hex digits). */
function fillToPcr(pattern: string): string {
  const fixed = pattern.replace(/[*]/g, '').replace(/\?/g, 'f');
  const star = pattern.indexOf('*');
  if (star < 0) return fixed;
  const head = pattern.slice(0, star).replace(/\?/g, 'f');
  return head + 'f'.repeat(Math.max(0, 96 - fixed.length)) + fixed.slice(head.length);
}

interface Mentions {
  enclave: Map<number, Set<string>>;
  nitroTpm: Map<number, Set<string>>;
}

function mentions(policy: ModelPolicy): Mentions {
  const enclave = new Map<number, Set<string>>();
  const nitroTpm = new Map<number, Set<string>>();
  for (const st of policy.statements) {
    for (const c of st.conditions) {
      const k = c.key.toLowerCase();
      const m = /^kms:recipientattestation:(?:(imagesha384)|pcr(\d{1,2})|nitrotpmpcr(\d{1,2}))$/.exec(k);
      if (m === null) continue;
      const target = m[3] !== undefined ? nitroTpm : enclave;
      const index = m[1] !== undefined ? 0 : Number(m[2] ?? m[3]);
      if (index > 31) continue;
      const set = target.get(index) ?? new Set<string>();
      for (const v of c.values) {
        set.add(v.toLowerCase());
        if (/[*?]/.test(v)) set.add(fillToPcr(v.toLowerCase()));
      }
      target.set(index, set);
    }
  }
  return { enclave, nitroTpm };
}

/**
 * `images`: the PCR sets of the images that may decrypt (manifests), index → value.
 * Returns the contexts and, for each, whether it carries one of those images (PCR0).
 */
export function attestationContexts(policy: ModelPolicy, images: ReadonlyArray<ReadonlyMap<number, string>>): AttestationContext[] {
  const m = mentions(policy);
  const indexes = new Set<number>([0, 1, 2, ...m.enclave.keys()]);
  const base = images[0] ?? new Map<number, string>();
  const correct = new Map<number, string>();
  for (const i of indexes) correct.set(i, base.get(i) ?? [...(m.enclave.get(i) ?? [])][0] ?? WRONG_PCR);
  const good = new Set(images.map((img) => img.get(0)).filter((v): v is string => v !== undefined));
  const candidates = new Map<number, string[]>();
  for (const i of indexes) {
    const set = new Set<string>([correct.get(i) as string, DEBUG_PCR, WRONG_PCR, ...(m.enclave.get(i) ?? [])]);
    for (const img of images) if (img.get(i) !== undefined) set.add(img.get(i) as string);
    candidates.set(i, representatives(policy, i, [...set], good));
  }
  const out: AttestationContext[] = [{ label: 'no Recipient (no attestation document)', pcrs: null }];
  for (const [n, img] of images.entries()) {
    const pcrs = new Map(correct);
    for (const i of indexes) if (img.get(i) !== undefined) pcrs.set(i, img.get(i) as string);
    out.push({ label: n === 0 ? "the manifest's image" : `the image of additional manifest ${n}`, pcrs });
  }
  const debug = new Map(correct);
  for (const i of [0, 1, 2, 8]) if (indexes.has(i)) debug.set(i, DEBUG_PCR);
  out.push({ label: 'a debug-mode enclave (PCR0/1/2 all zeros)', pcrs: debug });
  out.push({ label: 'another image (every PCR different)', pcrs: new Map([...indexes].map((i) => [i, WRONG_PCR])) });
  const product = [...candidates.values()].reduce((n, c) => n * c.length, 1);
  if (product > MAX_PRODUCT) {
    policyFail('CANNOT_LINT', `the attestation conditions distinguish ${product} combinations of PCR values; lint will not judge such a policy exhaustively`);
  }
  let combos: Array<Map<number, string>> = [new Map()];
  for (const [i, values] of candidates) combos = combos.flatMap((c) => values.map((v) => new Map(c).set(i, v)));
  for (const pcrs of combos) out.push(lazyLabel(pcrs, correct));
  if (m.nitroTpm.size > 0) {
    const tpm = new Map([...m.nitroTpm].map(([i, vs]) => [i, [...vs][0] as string]));
    out.push({ label: 'a NitroTPM attestation document (no enclave PCR keys)', pcrs: new Map(), nitroTpm: tpm });
  }
  return out;
}

/**
 * One value per class of values that every clause on PCR `index` (and ImageSha384 for PCR0)
 * treats alike, and that is alike for the property (PCR0: one of the images or not). The
 * product of these classes over the indexes is then every distinct attestation document.
 */
function representatives(policy: ModelPolicy, index: number, values: string[], good: ReadonlySet<string>): string[] {
  const keys = index === 0 ? ['kms:recipientattestation:pcr0', 'kms:recipientattestation:imagesha384'] : [`kms:recipientattestation:pcr${index}`];
  const clauses = policy.statements.flatMap((st) => st.conditions).filter((c) => keys.includes(c.key.toLowerCase()));
  const seen = new Set<string>();
  return values.filter((v) => {
    const ctx = new Map(keys.map((k) => [k, [v] as readonly string[]]));
    const sig = clauses.map((c) => (clauseHolds(c, ctx) ? '1' : '0')).join('') + (index === 0 && good.has(v) ? 'g' : '');
    if (seen.has(sig)) return false;
    seen.add(sig);
    return true;
  });
}

/** Labels are only read for a counterexample: build them then. */
function lazyLabel(pcrs: ReadonlyMap<number, string>, correct: ReadonlyMap<number, string>): AttestationContext {
  return {
    pcrs,
    get label() {
      return describe(pcrs, correct);
    },
  };
}

function describe(pcrs: ReadonlyMap<number, string>, correct: ReadonlyMap<number, string>): string {
  const parts = [...pcrs].map(([i, v]) => `PCR${i}=${v === correct.get(i) ? 'expected' : v === DEBUG_PCR ? 'zeros' : v === WRONG_PCR ? 'other' : `${v.slice(0, 8)}…`}`);
  return `an attestation document with ${parts.join(', ')}`;
}

const keysCache = new WeakMap<AttestationContext, Map<string, readonly string[]>>();

/** The condition keys KMS sets for an attestation context (computed once per context). */
export function attestationKeys(ctx: AttestationContext): Map<string, readonly string[]> {
  const cached = keysCache.get(ctx);
  if (cached !== undefined) return cached;
  const out = computeKeys(ctx);
  keysCache.set(ctx, out);
  return out;
}

function computeKeys(ctx: AttestationContext): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  if (ctx.pcrs === null) return out;
  for (const [i, v] of ctx.pcrs) out.set(`kms:recipientattestation:pcr${i}`, [v]);
  const pcr0 = ctx.pcrs.get(0);
  if (pcr0 !== undefined) out.set('kms:recipientattestation:imagesha384', [pcr0]);
  for (const [i, v] of ctx.nitroTpm ?? []) out.set(`kms:recipientattestation:nitrotpmpcr${i}`, [v]);
  return out;
}
