// `--option KEY=VALUE` pairs → the typed pack options the enclave accepts. They are bound
// into the OIDC audience and must come back unchanged in the receipt, so the client
// normalises them exactly as the enclave will (defaults spelled out, unknown keys refused).
import type { PackRequestOptions } from '../../verifier/pack-request.ts';

export class PackOptionError extends Error {
  override readonly name = 'PackOptionError';
}

export function parsePackOptionPairs(pairs: readonly string[]): PackRequestOptions {
  const out: PackRequestOptions = { signingKeyArn: null, ttlSeconds: null, bindEncryptionContext: false };
  const seen = new Set<string>();
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new PackOptionError(`--option '${pair}' is not KEY=VALUE`);
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (seen.has(key)) throw new PackOptionError(`--option ${key} is given twice`);
    seen.add(key);
    if (key === 'signingKeyArn') out.signingKeyArn = value;
    else if (key === 'ttlSeconds') {
      if (!/^[0-9]{1,10}$/.test(value)) throw new PackOptionError('--option ttlSeconds must be a whole number of seconds');
      out.ttlSeconds = Number(value);
    } else if (key === 'bindEncryptionContext') {
      if (value !== 'true' && value !== 'false') throw new PackOptionError('--option bindEncryptionContext must be true or false');
      out.bindEncryptionContext = value === 'true';
    } else throw new PackOptionError(`unknown pack option '${key}' (known: signingKeyArn, ttlSeconds, bindEncryptionContext)`);
  }
  return out;
}

/** The wire form: only what differs from the defaults (the enclave fills the same defaults). */
export function wireOptions(o: PackRequestOptions): Record<string, string | number | boolean> {
  return {
    ...(o.signingKeyArn === null ? {} : { signingKeyArn: o.signingKeyArn }),
    ...(o.ttlSeconds === null ? {} : { ttlSeconds: o.ttlSeconds }),
    ...(o.bindEncryptionContext ? { bindEncryptionContext: true } : {}),
  };
}
