/**
 * The out-of-distribution check set of `deno task bench:quality`: queries
 * and listings written in ways the training generator (`lib/data/synthetic.ts`)
 * never writes them, so that a recipe that wins on the generator's own
 * validation split is also seen on text it was not shaped by.
 *
 * What is new here, on purpose:
 * - query phrasings: whole-sentence requests ("mình đang cần…", "có ai cho
 *   thuê… không"), district initials (BT, GV, CG, HBT), slang prices ("3 củ",
 *   "ko quá 3500k"), abbreviations the generator never uses (đh, vsk, nt,
 *   p.trọ, c.h dịch vụ), English words (room, balcony, pet friendly), old-style
 *   tone placement (hoà), dropped diacritics and one-letter typos;
 * - four listing templates the generator does not have: an emoji bullet post,
 *   a formal notice, a no-diacritics chat message and an English-mixed ad.
 *
 * It shares only the vocabulary of places, room types and amenities, and the
 * meaning of a constraint (`violations`). A query's relevant listings are
 * every listing of the set that satisfies all its constraints.
 *
 * The set is frozen: `bench/quality/ood-v1.jsonl` was written once by
 * `deno run --allow-write=bench/quality bench/quality/ood.ts` before any
 * recipe was tuned, its sha256 is checked by the bench, and a test checks
 * that this file still writes exactly it. It is never trained or tuned on.
 *
 * @module
 */
import { Rng } from "../../lib/core/rng.ts";
import {
  AMENITIES,
  CITIES,
  type Constraints,
  type District,
  type Features,
  ROOM_TYPES,
  stripDiacritics,
  violations,
} from "../../lib/data/synthetic.ts";

/** Where the frozen set lives, relative to the repository root. */
export const OOD_PATH = "bench/quality/ood-v1.jsonl";
/** Its sha256, checked before every use. */
export const OOD_SHA256 = "9f030b284c965038725b79f20eefc695492faf925f45725c5ed36d009593cf4c";
/** The generator seed and size of the frozen set. */
export const OOD_SEED = 20261203;
/** Queries in the frozen set. */
export const OOD_QUERIES = 240;
/** A query of the set has at most this many relevant listings. */
const MAX_RELEVANT = 10;

const AMENITY_NAMES = Object.keys(AMENITIES);
const TYPE_NAMES = Object.keys(ROOM_TYPES);
const RULE_PAIRS: [string, string][] = [
  ["giờ giấc tự do", "giờ giấc cố định"],
  ["không chung chủ", "chung chủ"],
  ["cho nuôi thú cưng", "không nuôi thú cưng"],
];

// ---------------------------------------------------------------------------------------------
// Listings: four templates the training generator does not have.

const TYPE_LISTING: Record<string, string[]> = {
  "phòng trọ": ["phòng trọ sinh viên", "phòng cho thuê", "phòng trọ giá rẻ"],
  "chung cư mini": ["căn chung cư mini", "phòng chung cư mini", "chung cư mini mới"],
  "ký túc xá/sleepbox": ["giường ký túc xá", "chỗ ở dạng sleepbox", "giường tầng KTX"],
  "nhà nguyên căn": ["nhà nguyên căn 1 trệt 1 lầu", "nguyên căn nhà phố", "nhà riêng nguyên căn"],
  "căn hộ dịch vụ": ["căn hộ dịch vụ cao cấp", "serviced apartment (CHDV)", "căn hộ DV"],
};
const AMENITY_LISTING: Record<string, string[]> = {
  "máy lạnh": ["điều hoà", "máy điều hoà", "air con"],
  "WC riêng": ["nhà vệ sinh khép kín", "WC trong phòng", "vệ sinh khép kín"],
  "gác lửng": ["gác ngủ", "gác lửng cao", "gác"],
  "ban công": ["balcony", "ban công view đẹp", "bancong"],
  "máy giặt": ["máy giặt chung miễn phí", "máy giặt", "máy giặt sấy"],
  "thang máy": ["thang máy", "elevator", "có thang máy"],
  "chỗ để xe": ["hầm để xe", "giữ xe miễn phí", "bãi xe"],
  "nội thất": ["nội thất cơ bản đầy đủ", "đồ đạc đầy đủ", "full đồ"],
};
const RULE_LISTING: Record<string, string[]> = {
  "giờ giấc tự do": ["không giới hạn giờ giấc", "đi lại 24/7", "giờ giấc thoải mái"],
  "giờ giấc cố định": ["khoá cổng lúc 22h30", "về trước 22h", "giờ giấc quy định"],
  "không chung chủ": ["không ở cùng chủ nhà", "chủ không ở cùng", "không chung chủ"],
  "chung chủ": ["chủ nhà ở tầng trệt", "ở cùng chủ nhà", "chung chủ"],
  "cho nuôi thú cưng": ["pet friendly", "được nuôi chó mèo", "cho nuôi pet"],
  "không nuôi thú cưng": ["không nhận thú cưng", "no pet", "không nuôi chó mèo"],
};

function districtFull(d: District): string {
  return d.num !== undefined ? `Quận ${d.num}` : `${d.prefix === "TP" ? "TP" : "Quận"} ${d.name}`;
}

function cityFull(city: string): string {
  return city === "Hà Nội" ? "Hà Nội" : "TP. Hồ Chí Minh";
}

function findDistrict(name: string): District {
  for (const ds of Object.values(CITIES)) for (const d of ds) if (d.name === name) return d;
  throw new Error(`unknown district ${name}`);
}

function priceListing(p: number, style: number): string {
  const t = Math.round(p * 10), whole = Math.floor(t / 10), dec = t % 10;
  switch (style % 3) {
    case 0:
      return `${(t * 100000).toLocaleString("de-DE")} VNĐ/tháng`;
    case 1:
      return dec === 0 ? `${whole} triệu/tháng` : `${whole} triệu ${dec}/tháng`;
    default:
      return dec === 0 ? `${whole}tr/tháng` : `${whole},${dec}tr/tháng`;
  }
}

interface ListingStyle {
  template: number;
  choice: number;
}

function renderListing(f: Features, s: ListingStyle): string {
  const d = findDistrict(f.district);
  const c = s.choice;
  const type = TYPE_LISTING[f.room_type][c % 3];
  const amen = f.amenities.map((a, i) => AMENITY_LISTING[a][(c + i) % 3]);
  const rules = f.rules.map((r, i) => RULE_LISTING[r][(c + i) % 3]);
  const price = priceListing(f.price, c);
  switch (s.template % 4) {
    case 0:
      return [
        `🏠 CHO THUÊ ${type.toUpperCase()}`,
        `📍 ${districtFull(d)}, ${cityFull(f.city)} (gần ${f.landmark})`,
        `💰 ${price}`,
        `📐 ${f.area} m2`,
        `✨ ${amen.join(" • ")}`,
        ...(rules.length ? [`📌 ${rules.join(" • ")}`] : []),
        `☎️ Liên hệ chính chủ`,
      ].join("\n");
    case 1:
      return `Thông báo cho thuê ${type} tọa lạc tại ${districtFull(d)}, ${cityFull(f.city)}, ` +
        `cách ${f.landmark} khoảng ${2 + (c % 9)} phút. Diện tích sử dụng ${f.area} mét vuông, ` +
        `giá thuê ${price} (chưa gồm điện nước). Trang bị: ${amen.join("; ")}.` +
        (rules.length ? ` Quy định: ${rules.join("; ")}.` : "");
    case 2:
      return stripDiacritics(
        `con ${type} o ${d.num !== undefined ? `q${d.num}` : d.name.toLowerCase()} ` +
          `${f.city === "Hà Nội" ? "hn" : "sg"} nha mn, ${f.area}m, gia ${price}, co ${
            amen.join(", ")
          }${rules.length ? ", " + rules.join(", ") : ""}, gan ${f.landmark.toLowerCase()}`,
      );
    default:
      return `Room for rent: ${type} in ${districtFull(d)}, ${cityFull(f.city)} – ${f.area}m², ` +
        `${price}. Facilities: ${amen.join(", ")}.` +
        (rules.length ? ` Rules: ${rules.join(", ")}.` : "") + ` Near ${f.landmark}.`;
  }
}

function randomFeatures(rng: Rng): Features {
  const city = rng.next() < 0.55 ? "Hồ Chí Minh" : "Hà Nội";
  const d = rng.pick(CITIES[city]);
  const room_type = rng.pick(TYPE_NAMES);
  const rt = ROOM_TYPES[room_type];
  const amenities = rng.shuffle([...AMENITY_NAMES]).slice(0, 2 + rng.int(4));
  const pairs = rng.shuffle([...RULE_PAIRS]).slice(0, rng.int(3));
  return {
    city,
    district: d.name,
    landmark: rng.pick(d.landmarks),
    price: rng.pick(rt.prices),
    area: rng.pick(rt.areas),
    room_type,
    amenities: AMENITY_NAMES.filter((a) => amenities.includes(a)),
    rules: pairs.map((p) => (rng.next() < 0.7 ? p[0] : p[1])),
  };
}

// ---------------------------------------------------------------------------------------------
// Queries: phrasings, abbreviations and typos the training generator never makes.

const TYPE_QUERY: Record<string, string[]> = {
  "phòng trọ": ["p.trọ", "phòng trọ sv", "phòng tro", "room trọ"],
  "chung cư mini": ["cc mini", "chung cư mi ni", "chung cu mini", "ccmini"],
  "ký túc xá/sleepbox": ["giường tầng", "ở ghép ktx", "sleep box", "ký túc"],
  "nhà nguyên căn": ["nhà riêng", "nguyên căn nhà", "nhà nguyên căng", "cả căn nhà"],
  "căn hộ dịch vụ": ["c.h dịch vụ", "serviced apartment", "căn hộ dv cao cấp", "chdv full"],
};
const AMENITY_QUERY: Record<string, string[]> = {
  "máy lạnh": ["đh", "điều hoà", "air con", "máy lạnh"],
  "WC riêng": ["vsk", "wc khép kín", "nhà vệ sinh riêng", "vs khép kín"],
  "gác lửng": ["gác ngủ", "gác xếp", "gac lung"],
  "ban công": ["balcony", "bancong", "ban côg"],
  "máy giặt": ["mg riêng", "máy giặt sấy", "may giat"],
  "thang máy": ["có tm", "elevator", "thag máy"],
  "chỗ để xe": ["hầm xe", "giữ xe free", "chỗ gửi xe"],
  "nội thất": ["full nt", "đồ đạc đầy đủ", "full đồ"],
};
const RULE_QUERY: Record<string, string[]> = {
  "giờ giấc tự do": ["không giới hạn giờ", "đi lại 24/7", "giờ giấc thoải mái"],
  "không chung chủ": ["ko ở chung chủ nhà", "không chủ", "chủ ko ở cùng"],
  "cho nuôi thú cưng": ["nuôi chó mèo được", "pet friendly", "cho nuôi mèo"],
};
const FRAMES = [
  "mình đang cần {}",
  "có ai cho thuê {} không",
  "{} còn phòng không ạ",
  "em sinh viên cần {}",
  "tìm giúp mình {}",
  "{} cho 2 người",
  "cần gấp {} trong tuần này",
  "{}",
];

function initials(name: string): string {
  return name.split(" ").map((w) => w[0]).join("").toUpperCase();
}

function districtQuery(d: District, rng: Rng): string {
  if (d.num !== undefined) {
    return rng.pick([`qận ${d.num}`, `district ${d.num}`, `q ${d.num}`, `Q.${d.num} nhé`]);
  }
  return rng.pick([initials(d.name), `khu ${initials(d.name)}`, `quận ${d.name.toLowerCase()}`]);
}

function priceQuery(max: number, rng: Rng): string {
  const t = Math.round(max * 10), whole = Math.floor(t / 10), dec = t % 10;
  const num = dec === 0 ? `${whole}` : `${whole}.${dec}`;
  const spoken = dec === 5 ? `${whole} triệu rưỡi` : `${num} triệu`;
  return rng.pick([
    `${num} củ đổ lại`,
    `tối đa ${spoken}/tháng`,
    `ko quá ${t * 100}k`,
    `budget ${num}tr`,
    `<=${whole}tr${dec || ""}`,
  ]);
}

/** One character of a word of ≥ 4 letters deleted or doubled. */
function typo(text: string, rng: Rng): string {
  const words = text.split(" ");
  const long = words.map((w, i) => [w, i] as const).filter(([w]) => w.length >= 4);
  if (!long.length) return text;
  const [w, i] = rng.pick(long);
  const at = 1 + rng.int(w.length - 2);
  words[i] = rng.next() < 0.5
    ? w.slice(0, at) + w.slice(at + 1)
    : w.slice(0, at) + w[at] + w.slice(at);
  return words.join(" ");
}

function makeQuery(f: Features, rng: Rng): { query: string; constraints: Constraints } {
  const c: Constraints = {};
  const parts: string[] = [];
  parts.push(
    rng.next() < 0.6 ? (c.room_type = f.room_type, rng.pick(TYPE_QUERY[f.room_type])) : "phòng",
  );
  const loc = rng.next();
  if (loc < 0.6) {
    c.district = f.district;
    parts.push(districtQuery(findDistrict(f.district), rng));
  } else if (loc < 0.85) {
    c.landmark = f.landmark;
    parts.push(rng.pick(["ngay ", "cạnh ", "đi bộ tới ", "near "]) + f.landmark.toLowerCase());
  } else {
    c.city = f.city;
    parts.push(
      f.city === "Hà Nội"
        ? rng.pick(["thủ đô", "ha noi", "HN"])
        : rng.pick(["tp hcm", "saigon", "SG"]),
    );
  }
  if (rng.next() < 0.6) {
    const max = (Math.ceil(Math.round(f.price * 10) / 5) * 5) / 10;
    c.price = { max };
    parts.push(priceQuery(max, rng));
  }
  if (rng.next() < 0.4 && f.amenities.length) {
    const a = rng.pick(f.amenities);
    c.amenities = [a];
    parts.push(rng.pick(["có ", "cần có ", "", "phải có "]) + rng.pick(AMENITY_QUERY[a]));
  }
  const positiveRules = f.rules.filter((r) => r in RULE_QUERY);
  if (rng.next() < 0.25 && positiveRules.length) {
    const r = rng.pick(positiveRules);
    c.rules = [r];
    parts.push(rng.pick(RULE_QUERY[r]));
  }
  if (rng.next() < 0.2 && f.area >= 20) {
    const min = Math.floor((f.area - 1) / 5) * 5;
    c.area = { min };
    parts.push(rng.pick([`từ ${min}m2`, `${min} mét vuông trở lên`, `rộng hơn ${min}m`]));
  }
  let query = rng.pick(FRAMES).replace("{}", parts.join(rng.next() < 0.5 ? " " : ", "));
  const form = rng.next();
  if (form < 0.3) query = stripDiacritics(query);
  else if (form < 0.5) query = typo(query, rng);
  return { query: query.replace(/\s+/g, " ").trim(), constraints: c };
}

/** A copy of `f` changed in one constrained feature so that it violates `c` (or null). */
function perturb(f: Features, c: Constraints, rng: Rng): Features | null {
  const keys = Object.keys(c) as (keyof Constraints)[];
  for (let tries = 0; tries < 20; tries++) {
    const g: Features = { ...f, amenities: [...f.amenities], rules: [...f.rules] };
    const key = rng.pick(keys);
    if (key === "district" || key === "landmark" || key === "city") {
      const city = key === "city" ? (f.city === "Hà Nội" ? "Hồ Chí Minh" : "Hà Nội") : f.city;
      const d = rng.pick(CITIES[city].filter((x) => x.name !== f.district));
      Object.assign(g, { city, district: d.name, landmark: rng.pick(d.landmarks) });
    } else if (key === "price") {
      const higher = ROOM_TYPES[f.room_type].prices.filter((p) => p > c.price!.max! + 0.05);
      if (!higher.length) continue;
      g.price = rng.pick(higher);
    } else if (key === "room_type") {
      g.room_type = rng.pick(TYPE_NAMES.filter((t) => t !== f.room_type));
    } else if (key === "amenities") {
      g.amenities = g.amenities.filter((a) => !c.amenities!.includes(a));
    } else if (key === "rules") {
      g.rules = g.rules.map((r) => RULE_PAIRS.find((p) => p[0] === r)?.[1] ?? r);
    } else if (key === "area") {
      const smaller = ROOM_TYPES[f.room_type].areas.filter((a) => a < c.area!.min);
      if (!smaller.length) continue;
      g.area = rng.pick(smaller);
    }
    if (violations(g, c).length) return g;
  }
  return null;
}

/** One line of the set: FlagEmbedding JSONL plus the query's constraints, for inspection. */
export interface OodRecord {
  /** The query. */
  query: string;
  /** Every listing of the set that satisfies the query's constraints. */
  pos: string[];
  /** Listings changed from the query's own positive so that they violate it. */
  neg: string[];
  /** What the query asks for. */
  constraints: Constraints;
}

/**
 * The set: `n` queries, each with its own listing and up to three hard
 * negatives, all written with the templates above; then each query's `pos`
 * gathers every listing of the set that satisfies it.
 *
 * @example
 * ```ts
 * import { oodRecords } from "./ood.ts";
 * const set = oodRecords(20, 1);
 * if (set.length !== 20 || !set.every((r) => r.pos.length >= 1)) throw new Error("one positive at least");
 * ```
 */
export function oodRecords(n: number, seed: number): OodRecord[] {
  const rng = new Rng(seed);
  const items: { query: string; constraints: Constraints; own: string; neg: string[] }[] = [];
  const listings = new Map<string, Features>();
  const seen = new Set<string>();
  while (items.length < 2 * n) {
    const f = randomFeatures(rng);
    const { query, constraints } = makeQuery(f, rng);
    if (seen.has(query)) continue;
    seen.add(query);
    const style = { template: rng.int(4), choice: rng.int(60) };
    const own = renderListing(f, style);
    listings.set(own, f);
    const neg: string[] = [];
    for (let k = 0; k < 3; k++) {
      const g = perturb(f, constraints, rng);
      if (!g) continue;
      const text = renderListing(g, style);
      if (text === own || neg.includes(text)) continue;
      neg.push(text);
      listings.set(text, g);
    }
    items.push({ query, constraints, own, neg });
  }
  const all = [...listings.entries()];
  const records = items.map((it) => ({
    query: it.query,
    pos: [
      it.own,
      ...all.filter(([t, g]) => t !== it.own && !violations(g, it.constraints).length).map((
        [t],
      ) => t),
    ],
    neg: it.neg.filter((t) => violations(listings.get(t)!, it.constraints).length > 0),
    constraints: it.constraints,
  }));
  // Broad queries ("a room in HN") match hundreds of listings and measure nothing: keep the
  // first n with at most MAX_RELEVANT; the others' listings stay in the corpus as distractors.
  return records.filter((r) => r.pos.length <= MAX_RELEVANT).slice(0, n);
}

/** The frozen set's file content. */
export function oodJsonl(): string {
  return oodRecords(OOD_QUERIES, OOD_SEED).map((r) => JSON.stringify(r)).join("\n") + "\n";
}

if (import.meta.main) {
  await Deno.writeTextFile(OOD_PATH, oodJsonl());
  console.log(`wrote ${OOD_PATH} (${OOD_QUERIES} queries, seed ${OOD_SEED})`);
}
