/**
 * A one-line progress bar on stderr: done/total, rate, ETA and a free-form
 * suffix (e.g. the current loss). It draws only when stderr is a terminal, so
 * piped output and test logs stay clean; redraws are throttled. With
 * `plainIntervalMs`, a non-terminal stderr gets a plain line every that many
 * milliseconds instead (logs of long jobs are not silent).
 *
 * {@link encodeReporter} wraps it for a long encode: what is cached and what
 * is left before it starts, a one-time estimate (rate and ETA) after the first
 * seconds, then the bar or the periodic lines.
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
  /**
   * When not drawing a bar (stderr not a terminal): write a plain line every
   * this many milliseconds (default: never).
   */
  plainIntervalMs?: number;
  /** Where to write (default stderr); for tests. */
  write?: (s: string) => void;
  /** Clock in milliseconds (default `performance.now`); for tests. */
  now?: () => number;
  /** When the work started, on the `now` clock (default: when the bar is created). */
  start?: number;
}

/**
 * Format seconds as `m:ss` or `h:mm:ss`.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./progress.ts";
 * if (JSON.stringify(formatDuration(75)) !== JSON.stringify("1:15")) throw new Error(`got ${JSON.stringify(formatDuration(75))}`);
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
  /** Units of work in all (steps, texts). */
  readonly total: number;
  /** False when nothing is drawn (not a terminal, or quiet). */
  readonly enabled: boolean;
  #done = 0;
  #suffix = "";
  #start: number;
  #last = -Infinity;
  #lastPlain: number;
  #opts: Required<Omit<ProgressOptions, "enabled" | "plainIntervalMs" | "start">>;
  #plainMs: number;

  /** A bar for `total` units; `opts` sets the label, unit and drawing. */
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
    this.#start = opts.start ?? this.#opts.now();
    this.#lastPlain = this.#start;
    this.#plainMs = opts.plainIntervalMs ?? Infinity;
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

  /** The line written when no bar is drawn: no bar characters, a percentage. */
  renderPlain(): string {
    const { label, unit } = this.#opts;
    const pct = this.total > 0 ? (100 * this.#done / this.total).toFixed(1) : "100.0";
    const rate = this.rate();
    const eta = rate > 0 ? formatDuration((this.total - this.#done) / rate) : "?";
    const parts = [
      `${label ? label + " " : ""}${this.#done}/${this.total} (${pct}%)`,
      `${rate.toFixed(rate < 10 ? 2 : 1)} ${unit}/s`,
      `ETA ${eta}`,
    ];
    if (this.#suffix) parts.push(this.#suffix);
    return parts.join(" | ");
  }

  /** Seconds since the bar was created. */
  elapsed(): number {
    return (this.#opts.now() - this.#start) / 1000;
  }

  /** Set the absolute count (and optionally the suffix); redraws at most every `intervalMs`. */
  update(done: number, suffix?: string): void {
    this.#done = Math.min(Math.max(0, done), this.total);
    if (suffix !== undefined) this.#suffix = suffix;
    if (!this.enabled) {
      const t = this.#opts.now();
      if (t - this.#lastPlain >= this.#plainMs && this.#done < this.total) {
        this.#lastPlain = t;
        this.#opts.write(this.renderPlain() + "\n");
      }
      return;
    }
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

/** Options of {@link encodeReporter}. */
export interface EncodeReporterOptions {
  /** Text before the bar (default "encode"). */
  label?: string;
  /** Draw a bar (default: stderr is a terminal). Otherwise plain lines every `plainIntervalMs`. */
  tty?: boolean;
  /** Plain-line period when not drawing a bar (default 10 000 ms). */
  plainIntervalMs?: number;
  /** When to print the estimate (default 5 000 ms after `plan`). */
  estimateAfterMs?: number;
  /**
   * When to check the estimate again (default 30 000 ms): printed once more, as
   * "estimate (updated)", if the projected total moved by more than 25 %.
   */
  recheckAfterMs?: number;
  /** Where the plan, estimate and summary lines go (default `console.log`). */
  log?: (line: string) => void;
  /** Where the bar or the plain lines go (default stderr). */
  write?: (s: string) => void;
  /** Clock in milliseconds (default `performance.now`); for tests. */
  now?: () => number;
}

/** What is cached and what is left (the shape of lib/encoder/cache.ts's `EmbedPlan`). */
export interface EncodePlan {
  /** Unique texts asked for. */
  total: number;
  /** Texts already in the cache. */
  cached: number;
  /** Texts the encoder will run on. */
  toEncode: number;
}

/** Callbacks for a long encode (see {@link encodeReporter}). */
export interface EncodeReporter {
  /** Report what is cached and what is left, before encoding. */
  plan(p: EncodePlan): void;
  /** Progress: texts done of texts to encode. */
  update(done: number, total: number): void;
  /** End the bar and print the summary (idempotent). */
  done(): void;
}

/**
 * The one-line plan before an encode: how many texts, how many were cached,
 * and whether this continues an interrupted run.
 *
 * @example
 * ```ts
 * import { planMessage } from "./progress.ts";
 * const msg = planMessage({ total: 5000, cached: 1200, toEncode: 3800 });
 * if (msg !== "resumed: 1,200 of 5,000 texts already cached; encoding 3,800") throw new Error(msg);
 * ```
 */
export function planMessage(p: EncodePlan): string {
  const n = (x: number) => x.toLocaleString("en-US");
  if (p.toEncode === 0) return `cache: all ${n(p.total)} texts already cached`;
  if (p.cached === 0) return `cache: ${n(p.total)} texts to encode (none cached yet)`;
  return `resumed: ${n(p.cached)} of ${n(p.total)} texts already cached; encoding ${n(p.toEncode)}`;
}

/**
 * Progress for a long encode: call `plan` before it starts, `update` with
 * `(done, total)` (the shape of `onProgress`), `done` at the end. After
 * `estimateAfterMs` it prints the measured rate (first batch, i.e. warm-up,
 * excluded) and the ETA, so the user knows within seconds how long the whole
 * encode will take; at `recheckAfterMs` it prints it again only if it moved
 * by more than 25 %. Meanwhile a bar with rate and ETA on a terminal, or a
 * plain line every `plainIntervalMs`.
 *
 * @example
 * ```ts
 * import { encodeReporter } from "./progress.ts";
 * const r = encodeReporter({ tty: false });
 * r.plan({ total: 100, cached: 0, toEncode: 100 });
 * for (let i = 8; i <= 100; i += 8) r.update(i, 100);
 * r.done();
 * ```
 */
export function encodeReporter(opts: EncodeReporterOptions = {}): EncodeReporter {
  const log = opts.log ?? ((s: string) => console.log(s));
  const label = opts.label ?? "encode";
  const now = opts.now ?? (() => performance.now());
  const estimateAfter = opts.estimateAfterMs ?? 5000;
  const recheckAfter = opts.recheckAfterMs ?? 30_000;
  const tty = opts.tty ?? isStderrTerminal();
  const write = opts.write ?? ((s: string) => Deno.stderr.writeSync(new TextEncoder().encode(s)));
  let bar: Progress | undefined;
  let estimates = 0;
  let firstTotalSecs = 0;
  let finished = false;
  let start: number | undefined;
  // The first batch (model warm-up) is excluded from the estimate's rate.
  let warm: { t: number; done: number } | undefined;
  const fmtRate = (r: number) => r.toFixed(r < 10 ? 2 : 1);
  return {
    plan(p) {
      log(planMessage(p));
      start = now();
    },
    update(done, total) {
      if (finished) return;
      if (!bar || bar.total !== total) {
        bar = new Progress(total, {
          label,
          unit: "texts",
          enabled: tty,
          plainIntervalMs: opts.plainIntervalMs ?? 10_000,
          write: opts.write,
          now,
          start,
        });
      }
      bar.update(done);
      const t = now();
      if (done > 0 && !warm) warm = { t, done };
      if (done <= 0 || done >= total || estimates >= 2) return;
      const elapsedMs = bar.elapsed() * 1000;
      if (elapsedMs < (estimates === 0 ? estimateAfter : recheckAfter)) return;
      const rate = warm && t - warm.t >= 1000 && done > warm.done
        ? (done - warm.done) / ((t - warm.t) / 1000)
        : bar.rate();
      if (!(rate > 0)) return;
      const left = (total - done) / rate;
      const all = elapsedMs / 1000 + left;
      if (estimates === 1 && Math.abs(all - firstTotalSecs) <= 0.25 * firstTotalSecs) {
        estimates = 2; // the first estimate still holds
        return;
      }
      const line = `${estimates === 0 ? "estimate" : "estimate (updated)"}: ${
        fmtRate(rate)
      } texts/s after ${done.toLocaleString("en-US")} texts → ${formatDuration(left)} left for ${
        (total - done).toLocaleString("en-US")
      } texts (about ${formatDuration(all)} in all)`;
      if (estimates === 0) firstTotalSecs = all;
      estimates++;
      if (tty) write("\r\x1b[2K");
      log(line);
    },
    done() {
      if (finished || !bar) return;
      finished = true;
      bar.finish();
      const secs = bar.elapsed();
      const rate = bar.rate();
      if (!tty) {
        log(
          `${label}: ${bar.done.toLocaleString("en-US")} texts in ${formatDuration(secs)} (${
            rate.toFixed(rate < 10 ? 2 : 1)
          } texts/s)`,
        );
      }
    },
  };
}
