/**
 * Which of a listing's features a query asks for, so that the search page
 * can highlight them. Text is compared without diacritics, case or
 * punctuation ("Quận 10" = "quan 10"), with the common abbreviations of the
 * generated data ("q10", "hcm", "ccmn", "wc riêng" = "toilet riêng", …), and
 * with budgets and minimum areas read from the query ("dưới 3tr5", ">15m2").
 *
 * @module
 */
import type { MetaValue } from "../data/listings.ts";

/**
 * Lower-case, strip diacritics (đ → d) and turn every run of other
 * characters into one space.
 *
 * @example
 * ```ts
 * import { foldText } from "./highlight.ts";
 * if (JSON.stringify(foldText("Phòng trọ Q.10, ĐH Bách Khoa")) !== JSON.stringify("phong tro q 10 dh bach khoa")) throw new Error(`got ${JSON.stringify(foldText("Phòng trọ Q.10, ĐH Bách Khoa"))}`);
 * ```
 */
export function foldText(s: string): string {
  return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐ]/g, "d").toLowerCase()
    .replace(/[^a-z0-9]+/g, " ").trim();
}

const ALIASES: Record<string, string[]> = {
  "ho chi minh": ["hcm", "tphcm", "tp hcm", "sai gon", "saigon", "sg"],
  "ha noi": ["hn", "hanoi"],
  "chung cu mini": ["ccmn", "chung cu mini"],
  "can ho dich vu": ["chdv"],
  "ky tuc xa sleepbox": ["ktx", "sleepbox", "ky tuc xa", "sleep box"],
  "nha nguyen can": ["nguyen can"],
  "phong tro": ["nha tro", "tro"],
  "wc rieng": ["toilet rieng", "ve sinh rieng", "vs rieng", "wc"],
  "may lanh": ["dieu hoa"],
  "gac lung": ["gac", "gac xep", "co gac"],
  "cho de xe": ["de xe", "giu xe"],
  "noi that": ["full noi that", "full nt"],
  "gio giac tu do": ["tu do", "gio tu do", "di ve tu do"],
  "khong chung chu": ["ko chung chu", "k chung chu"],
  "cho nuoi thu cung": ["nuoi thu cung", "nuoi pet", "cho nuoi pet"],
};

/** The folded phrases that name a feature value, e.g. "Quận 10" → ["quan 10", "q 10", "q10"]. */
function phrases(value: string): string[] {
  const f = foldText(value);
  const out = [f, ...(ALIASES[f] ?? [])];
  const m = f.match(/^quan (\d+)$/);
  if (m) out.push(`q ${m[1]}`, `q${m[1]}`, `quan${m[1]}`);
  return out;
}

function mentions(foldedQuery: string, phrase: string): boolean {
  return phrase !== "" && ` ${foldedQuery} `.includes(` ${phrase} `);
}

/** Parse "3tr5", "3 triệu", "3.5tr", "3,5 triệu", "3500k" (folded) into millions. */
function millions(num: string, unit: string, frac: string | undefined): number {
  const n = Number(num.replace(",", "."));
  if (unit === "k") return n / 1000;
  return frac ? n + Number(`0.${frac}`) : n;
}

/**
 * Constraints on price (million VND) and area (m²) read from a query.
 *
 * @example
 * ```ts
 * import { numericConstraints } from "./highlight.ts";
 * if (JSON.stringify(numericConstraints("phòng dưới 3tr5, trên 20m2")) !== JSON.stringify({ priceMax: 3.5, areaMin: 20 })) throw new Error(`got ${JSON.stringify(numericConstraints("phòng dưới 3tr5, trên 20m2"))}`);
 * ```
 */
export function numericConstraints(query: string): { priceMax?: number; areaMin?: number } {
  const q = query.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐ]/g, "d")
    .toLowerCase();
  const out: { priceMax?: number; areaMin?: number } = {};
  const price = q.match(
    /(?:duoi|<=?|toi da|max|khong qua|ko qua|tam|do lai|re hon)\s*(\d+(?:[.,]\d+)?)\s*(tr|trieu|m|k)\s*(\d)?/,
  );
  if (price) out.priceMax = millions(price[1], price[2], price[3]);
  const area = q.match(/(?:tren|>=?|tu|it nhat|rong hon|toi thieu)\s*(\d+)\s*(?:m2|m²|m\b)/);
  if (area) out.areaMin = Number(area[1]);
  return out;
}

/**
 * The metadata keys of a listing that the query asks for: string values (and
 * list entries) the query names, a price within the query's budget, an area
 * at least the query's minimum.
 *
 * @example
 * ```ts
 * import { matchingFeatures } from "./highlight.ts";
 * const meta = { city: "Hồ Chí Minh", district: "Quận 10", price: 3, amenities: ["máy lạnh", "WC riêng"] };
 * const found = matchingFeatures("phòng trọ q10 dưới 3tr5 có máy lạnh", meta);
 * if (JSON.stringify(found) !== JSON.stringify(["district", "price", "amenities"])) throw new Error(`${found}`);
 * ```
 */
export function matchingFeatures(query: string, meta: Record<string, MetaValue>): string[] {
  const fq = foldText(query);
  const nums = numericConstraints(query);
  const out: string[] = [];
  for (const [key, value] of Object.entries(meta)) {
    let hit = false;
    if (typeof value === "string") hit = phrases(value).some((p) => mentions(fq, p));
    else if (Array.isArray(value)) {
      hit = value.some((v) => phrases(v).some((p) => mentions(fq, p)));
    } else if (typeof value === "number") {
      if (key === "price" && nums.priceMax !== undefined) hit = value <= nums.priceMax;
      if (key === "area" && nums.areaMin !== undefined) hit = value >= nums.areaMin;
    }
    if (hit) out.push(key);
  }
  return out;
}

/**
 * The list entries of a listing's metadata that the query names (e.g. which
 * amenities), for per-value highlighting.
 *
 * @example
 * ```ts
 * import { matchingValues } from "./highlight.ts";
 * if (JSON.stringify(matchingValues("có máy lạnh", ["máy lạnh", "gác lửng"])) !== JSON.stringify(["máy lạnh"])) throw new Error(`got ${JSON.stringify(matchingValues("có máy lạnh", ["máy lạnh", "gác lửng"]))}`);
 * ```
 */
export function matchingValues(query: string, values: string[]): string[] {
  const fq = foldText(query);
  return values.filter((v) => phrases(v).some((p) => mentions(fq, p)));
}
