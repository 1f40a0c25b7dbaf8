/**
 * The error every library module throws for input the user can fix (a flag,
 * a file, a field), as opposed to a bug. The command line prints its message
 * alone and exits with code 2 (`runMain` in `lib/cli/cli.ts`); library
 * callers can catch it by class. It lives here, not in the CLI package, so
 * that the library never depends on the command line.
 *
 * @example
 * ```ts
 * import { UsageError } from "./errors.ts";
 * const err = new UsageError("--dim 100 is not a trained prefix");
 * if (!(err instanceof Error) || err.name !== "UsageError") throw new Error("unexpected");
 * ```
 *
 * @module
 */

/** Bad input that the user can fix: a one-line message, exit code 2 in the CLI. */
export class UsageError extends Error {
  /**
   * The error, with its one-line message.
   *
   * @param message What is wrong, naming the flag, file, record or field.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
