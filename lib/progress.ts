/**
 * A one-line progress bar on stderr: done/total, rate, ETA and a free-form
 * suffix (e.g. the current loss). It draws only when stderr is a terminal, so
 * piped output and test logs stay clean; redraws are throttled.
 *
 * @module
 */

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** Text before the bar, e.g. "embed". */
  label?: string;
  /** Unit of the rate, e.g. "texts" → "123.4 texts/s" (default "it"). */
  unit?: string;
  /** Bar width in characters (default 24). */
  width?: number;
  /** Force drawing on or off (default: only when stderr is a terminal). */
  enabled?: boolean;
  /** Minimum milliseconds between redraws (default 100). */
  intervalMs?: number;
  /** Where to write (default stderr); for tests. */
  write?: (s: string) => void;
  /** Clock in milliseconds (default `performance.now`); for tests. */
  now?: () => number;
}

/**
 * Format seconds as `m:ss` or `h:mm:ss`.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./progress.ts";
 * console.log(formatDuration(75)); // "1:15"
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/**
 * A progress bar. Call {@link Progress.update} with the absolute count (or
 * {@link Progress.tick}), then {@link Progress.finish}.
 *
 * @example
 * ```ts
 * import { Progress } from "./progress.ts";
 * const bar = new Progress(100, { label: "embed", unit: "texts" });
 * for (let i = 1; i <= 100; i++) bar.update(i, `batch ${i}`);
 * bar.finish();
 * ```
 */
export class Progress {
  readonly total: number;
  readonly enabled: boolean;
  #done = 0;
  #suffix = "";
  #start: number;
  #last = -Infinity;
  #opts: Required<Omit<ProgressOptions, "enabled">>;

  constructor(total: number, opts: ProgressOptions = {}) {
    this.total = Math.max(0, total);
    this.enabled = opts.enabled ?? isStderrTerminal();
    const encoder = new TextEncoder();
    this.#opts = {
      label: opts.label ?? "",
      unit: opts.unit ?? "it",
      width: opts.width ?? 24,
      intervalMs: opts.intervalMs ?? 100,
      write: opts.write ?? ((s) => Deno.stderr.writeSync(encoder.encode(s))),
      now: opts.now ?? (() => performance.now()),
    };
    this.#start = this.#opts.now();
  }

  /** Items done so far. */
  get done(): number {
    return this.#done;
  }

  /** Items per second since the start. */
  rate(): number {
    const secs = (this.#opts.now() - this.#start) / 1000;
    return secs > 0 ? this.#done / secs : 0;
  }

  /** The current line (without the leading carriage return). */
  render(): string {
    const { label, unit, width } = this.#opts;
    const frac = this.total > 0 ? Math.min(1, this.#done / this.total) : 1;
    const filled = Math.round(frac * width);
    const bar = "█".repeat(filled) + "░".repeat(width - filled);
    const rate = this.rate();
    const eta = rate > 0 ? formatDuration((this.total - this.#done) / rate) : "?";
    const parts = [
      `${label ? label + " " : ""}${bar} ${this.#done}/${this.total}`,
      `${rate.toFixed(rate < 10 ? 2 : 1)} ${unit}/s`,
      `ETA ${eta}`,
    ];
    if (this.#suffix) parts.push(this.#suffix);
    return parts.join(" | ");
  }

  /** Set the absolute count (and optionally the suffix); redraws at most every `intervalMs`. */
  update(done: number, suffix?: string): void {
    this.#done = Math.min(Math.max(0, done), this.total);
    if (suffix !== undefined) this.#suffix = suffix;
    if (!this.enabled) return;
    const now = this.#opts.now();
    if (now - this.#last < this.#opts.intervalMs && this.#done < this.total) return;
    this.#last = now;
    this.#opts.write(`\r\x1b[2K${this.render()}`);
  }

  /** Add `n` (default 1) to the count. */
  tick(n = 1, suffix?: string): void {
    this.update(this.#done + n, suffix);
  }

  /** Draw the final state and end the line. */
  finish(suffix?: string): void {
    if (suffix !== undefined) this.#suffix = suffix;
    if (!this.enabled) return;
    this.#opts.write(`\r\x1b[2K${this.render()}\n`);
  }
}

function isStderrTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

/** A progress bar whose total is given with each update (see {@link createProgress}). */
export interface ProgressHandle {
  /** Set done/total (and optionally the suffix); the first call starts the clock. */
  update(done: number, total: number, suffix?: string): void;
  /** Draw the final state and end the line; later calls do nothing. */
  done(suffix?: string): void;
}

/**
 * A {@link Progress} that learns its total from the first `update`, for
 * callbacks of the form `(done, total)`. A new total restarts the bar;
 * `done()` is idempotent and does nothing if nothing was shown.
 *
 * @example
 * ```ts
 * import { createProgress } from "./progress.ts";
 * const bar = createProgress({ label: "encode", unit: "texts" });
 * for (let i = 0; i <= 10; i++) bar.update(i, 10);
 * bar.done();
 * ```
 */
export function createProgress(opts: ProgressOptions = {}): ProgressHandle {
  let bar: Progress | undefined;
  let finished = false;
  return {
    update(done, total, suffix) {
      if (!bar || bar.total !== Math.max(0, total) || finished) {
        bar = new Progress(total, opts);
        finished = false;
      }
      bar.update(done, suffix);
    },
    done(suffix) {
      if (!bar || finished) return;
      finished = true;
      bar.finish(suffix);
    },
  };
}
