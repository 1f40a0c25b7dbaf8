/**
 * Seeded pseudo-random numbers. Every random choice in the project (data
 * generation, splits, shuffles, initialisation) goes through here so that the
 * same seed gives the same result on every machine.
 *
 * @module
 */

/**
 * A small, fast, seeded PRNG (mulberry32). `next()` returns a float in [0, 1).
 *
 * @example
 * ```ts
 * import { Rng } from "./rng.ts";
 * const rng = new Rng(42);
 * const again = new Rng(42); // the same seed, the same sequence
 * const a = [rng.next(), rng.int(10), rng.pick(["a", "b"])];
 * const b = [again.next(), again.int(10), again.pick(["a", "b"])];
 * if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`${a} vs ${b}`);
 * ```
 */
export class Rng {
  #state: number;
  /** A generator whose whole sequence is fixed by `seed` (an unsigned 32-bit integer). */
  constructor(seed: number) {
    this.#state = (seed >>> 0) ^ 0x9e3779b9;
    for (let i = 0; i < 4; i++) this.next();
  }
  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  /** A standard normal sample (Box-Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  /** Shuffle an array in place (Fisher-Yates) and return it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}

/**
 * 32-bit FNV-1a hash of a string's UTF-16 code units: a seed derived from a
 * name (deterministic on every machine).
 *
 * @example
 * ```ts
 * import { fnv1a } from "./rng.ts";
 * if (JSON.stringify(fnv1a("a")) !== JSON.stringify(3826002220)) throw new Error(`got ${JSON.stringify(fnv1a("a"))}`);
 * ```
 */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
