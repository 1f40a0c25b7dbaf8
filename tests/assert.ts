/**
 * Minimal assertions for the tests (JSR's @std/assert is not reachable
 * here). Same names and semantics as @std/assert for the subset we use.
 *
 * @module
 */

/** An assertion failed. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

function show(v: unknown): string {
  try {
    return Deno.inspect(v, { depth: 6, colors: false });
  } catch {
    return String(v);
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const x = a as unknown as ArrayLike<unknown>, y = b as unknown as ArrayLike<unknown>;
    if (a.constructor !== b.constructor || x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !deepEqual(v, b.get(k))) return false;
    return true;
  }
  if (a instanceof Set && b instanceof Set) {
    if (a.size !== b.size) return false;
    for (const v of a) if (!b.has(v)) return false;
    return true;
  }
  const ka = Object.keys(a as object), kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) {
      return false;
    }
  }
  return true;
}

/** Assert `cond` is truthy. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new AssertionError(msg);
}

/** Assert deep equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  if (!deepEqual(actual, expected)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}values are not equal\n  actual:   ${show(actual)}\n  expected: ${
        show(expected)
      }`,
    );
  }
}

/** Assert deep inequality. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  if (deepEqual(actual, expected)) {
    throw new AssertionError(`${msg ? msg + ": " : ""}values are equal: ${show(actual)}`);
  }
}

/** Assert |actual - expected| <= tolerance (default 1e-7, scaled like @std/assert). */
export function assertAlmostEquals(
  actual: number,
  expected: number,
  tolerance?: number,
  msg?: string,
): void {
  const tol = tolerance ?? Math.max(1e-7, Math.abs(expected) * 1e-7);
  if (Object.is(actual, expected)) return;
  if (!(Math.abs(actual - expected) <= tol)) {
    throw new AssertionError(
      `${
        msg ? msg + ": " : ""
      }expected ${actual} to be close to ${expected} (tolerance ${tol}, diff ${
        Math.abs(actual - expected)
      })`,
    );
  }
}

/** Assert `actual` > `expected`. */
export function assertGreater(actual: number, expected: number, msg?: string): void {
  if (!(actual > expected)) {
    throw new AssertionError(`${msg ? msg + ": " : ""}expected ${actual} > ${expected}`);
  }
}

/** Assert `actual` < `expected`. */
export function assertLess(actual: number, expected: number, msg?: string): void {
  if (!(actual < expected)) {
    throw new AssertionError(`${msg ? msg + ": " : ""}expected ${actual} < ${expected}`);
  }
}

/** Assert a string contains a substring. */
export function assertStringIncludes(actual: string, expected: string, msg?: string): void {
  if (!actual.includes(expected)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}expected ${show(actual)} to include ${show(expected)}`,
    );
  }
}

/** Assert `value` matches `re`. */
export function assertMatch(actual: string, re: RegExp, msg?: string): void {
  if (!re.test(actual)) {
    throw new AssertionError(`${msg ? msg + ": " : ""}expected ${show(actual)} to match ${re}`);
  }
}

type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

function checkError<E extends Error>(
  err: unknown,
  Cls?: ErrorClass<E>,
  includes?: string,
): E {
  if (!(err instanceof Error)) throw new AssertionError(`expected an Error, got ${show(err)}`);
  if (Cls && !(err instanceof Cls)) {
    throw new AssertionError(
      `expected error of class ${Cls.name}, got ${err.name}: ${err.message}`,
    );
  }
  if (includes !== undefined && !err.message.includes(includes)) {
    throw new AssertionError(
      `expected error message to include ${show(includes)}, got ${show(err.message)}`,
    );
  }
  return err as E;
}

/** Assert `fn` throws (optionally of a class, with a message substring); returns the error. */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  Cls?: ErrorClass<E>,
  includes?: string,
): E {
  try {
    fn();
  } catch (err) {
    return checkError(err, Cls, includes);
  }
  throw new AssertionError("expected function to throw");
}

/** Assert the promise from `fn` rejects (optionally of a class, with a message substring). */
export async function assertRejects<E extends Error = Error>(
  fn: () => Promise<unknown>,
  Cls?: ErrorClass<E>,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (err) {
    return checkError(err, Cls, includes);
  }
  throw new AssertionError("expected promise to reject");
}
