// The verification check recorder shared by verifyAttestationDocument and verifyReceipt:
// every step is recorded by name, and the first failure is re-thrown as a VerificationError
// whose detail.checks lists the steps done so far, the failing one last.
import { isVerificationError, VerificationError, type VerifyErrorCode } from './errors.ts';
import type { CheckResult } from './types.ts';

export class CheckRecorder {
  readonly checks: CheckResult[] = [];

  /**
   * Run one check. A VerificationError is recorded and re-thrown with the checks so far;
   * anything else thrown inside a check (which would be a bug) becomes `fallback`, so
   * callers only ever see coded errors for whatever the input contains.
   */
  run<T>(name: string, fallback: VerifyErrorCode, fn: () => T, describe: (value: T) => string | undefined): T {
    let value: T;
    try {
      value = fn();
    } catch (e) {
      const err = isVerificationError(e)
        ? e
        : new VerificationError(fallback, `${name}: ${e instanceof Error ? e.message : String(e)}`);
      this.checks.push({ name, status: 'fail', detail: err.message });
      throw new VerificationError(err.code, err.message, { ...err.detail, check: name, checks: [...this.checks] });
    }
    const detail = describe(value);
    this.checks.push(detail === undefined ? { name, status: 'pass' } : { name, status: 'pass', detail });
    return value;
  }

  skip(name: string, detail: string): void {
    this.checks.push({ name, status: 'skipped', detail });
  }
}
