// What a refusal test asserts on: the stable `code` of the error a call throws.

type ErrorClass = abstract new (...args: never[]) => Error & { code: string };

/**
 * The `code` of the `errorClass` error `fn` throws, or 'accepted' when it throws nothing.
 * An error of any other kind is re-thrown, so a crash never passes for a refusal.
 */
export function codeOf(fn: () => unknown, errorClass: ErrorClass): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof errorClass) return e.code;
    throw e;
  }
  return 'accepted';
}
