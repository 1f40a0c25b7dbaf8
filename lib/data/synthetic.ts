/**
 * The synthetic Vietnamese rental-listing dataset ("phòng trọ") used to train and evaluate the
 * projection head (`deno task gen-data --count 1000 --seed 42` writes it).
 *
 * Every example is a short colloquial query naming 1–4 constraints, a positive listing that
 * satisfies all of them, and 3–7 hard negatives: the positive with one or two of the *queried*
 * features changed so that it violates the query, re-rendered with the same template and
 * abbreviation style (so its text differs from the positive only in the changed features).
 * The same seed gives byte-identical output. The format is documented in `data/README.md`.
 *
 * @module
 */
import { Rng } from "../core/rng.ts";

// ---------------------------------------------------------------------------------------------
// Types

/**
 * Structured features of one listing. Prices are in triệu/tháng, areas in m².
 */
export interface Features {
  /** City (`Hà Nội` or `Hồ Chí Minh`). */
  city: string;
  /** District of the city. */
  district: string;
  /** A landmark in the district (a university, a market). */
  landmark: string;
  /** Monthly rent in triệu đồng. */
  price: number;
  /** Area in m². */
  area: number;
  /** Room type (phòng trọ, chung cư mini, …). */
  room_type: string;
  /** Amenities (máy lạnh, WC riêng, …). */
  amenities: string[];
  /** House rules (giờ giấc tự do, nuôi thú cưng, …). */
  rules: string[];
}

/**
 * The constraints a query names; a listing satisfies the query when it meets all of them.
 */
export interface Constraints {
  /** The city asked for. */
  city?: string;
  /** The district asked for. */
  district?: string;
  /** A landmark the listing must be near. */
  landmark?: string;
  /** Inclusive bounds in triệu/tháng. */
  price?: { min?: number; max?: number };
  /** Inclusive lower bound in m². */
  area?: { min: number };
  /** The room type asked for. */
  room_type?: string;
  /** Every listed amenity must be present. */
  amenities?: string[];
  /** Every listed rule must be present. */
  rules?: string[];
}

/**
 * One generated record, as written to `data/gen-data-set.json`.
 *
 * @example
 * ```ts
 * import { generateExamples, type GeneratedExample } from "./synthetic.ts";
 * const [e]: GeneratedExample[] = generateExamples({ count: 1, seed: 1 });
 * console.log(e.constraints, e.negatives[0].differs);
 * ```
 */
export interface GeneratedExample {
  /** The query text. */
  query: string;
  /** What the query asks for. */
  constraints: Constraints;
  /** A listing that satisfies every constraint, with its features. */
  positive: { text: string; features: Features };
  /** Listings that violate the query in the features named by `differs`. */
  negatives: { text: string; differs: string[]; features: Features }[];
}

// ---------------------------------------------------------------------------------------------
// Vocabulary

/** A district of the generator's vocabulary. */
export interface District {
  /** The district's canonical name. */
  name: string;
  /** Number of a numbered district ("Quận 10" → 10). */
  num?: number;
  /** Administrative prefix used when rendering a named district ("quận", "TP"). */
  prefix?: string;
  /** Landmarks in the district. */
  landmarks: string[];
}

/**
 * Cities with their real districts and a few well-known landmarks per district.
 *
 * @example
 * ```ts
 * import { CITIES } from "./synthetic.ts";
 * console.log(CITIES["Hà Nội"].map((d) => d.name));
 * ```
 */
export const CITIES: Record<string, District[]> = {
  "Hồ Chí Minh": [
    {
      name: "Quận 1",
      num: 1,
      landmarks: ["chợ Bến Thành", "phố đi bộ Nguyễn Huệ", "công viên Tao Đàn", "ĐH KHXH&NV"],
    },
    {
      name: "Quận 3",
      num: 3,
      landmarks: ["hồ Con Rùa", "ĐH Kinh Tế", "ga Sài Gòn", "công viên Lê Văn Tám"],
    },
    {
      name: "Quận 4",
      num: 4,
      landmarks: ["ĐH Nguyễn Tất Thành", "cầu Khánh Hội", "chợ Xóm Chiếu"],
    },
    {
      name: "Quận 5",
      num: 5,
      landmarks: ["ĐH Y Dược", "ĐH Sư Phạm", "ĐH Khoa Học Tự Nhiên", "chợ An Đông"],
    },
    {
      name: "Quận 7",
      num: 7,
      landmarks: ["ĐH Tôn Đức Thắng", "Crescent Mall", "ĐH RMIT", "Lotte Mart Quận 7"],
    },
    {
      name: "Quận 10",
      num: 10,
      landmarks: [
        "ĐH Bách Khoa",
        "Vạn Hạnh Mall",
        "chợ Nguyễn Tri Phương",
        "công viên Lê Thị Riêng",
      ],
    },
    { name: "Quận 11", num: 11, landmarks: ["Đầm Sen", "chợ Bình Thới", "BV Trưng Vương"] },
    {
      name: "Bình Thạnh",
      prefix: "quận",
      landmarks: [
        "ĐH Hutech",
        "Landmark 81",
        "chợ Bà Chiểu",
        "ngã tư Hàng Xanh",
        "ĐH Giao Thông Vận Tải",
      ],
    },
    {
      name: "Gò Vấp",
      prefix: "quận",
      landmarks: ["ĐH Công Nghiệp", "Emart Gò Vấp", "chợ Hạnh Thông Tây", "công viên Gia Định"],
    },
    {
      name: "Phú Nhuận",
      prefix: "quận",
      landmarks: ["ngã tư Phú Nhuận", "chợ Phú Nhuận", "ĐH Văn Hiến"],
    },
    {
      name: "Tân Bình",
      prefix: "quận",
      landmarks: [
        "sân bay Tân Sơn Nhất",
        "công viên Hoàng Văn Thụ",
        "chợ Tân Bình",
        "Etown Cộng Hòa",
      ],
    },
    {
      name: "Tân Phú",
      prefix: "quận",
      landmarks: ["Aeon Mall Tân Phú", "ĐH Công Thương", "chợ Tân Hương"],
    },
    {
      name: "Thủ Đức",
      prefix: "TP",
      landmarks: ["Làng Đại học", "ĐH Sư Phạm Kỹ Thuật", "Vincom Thủ Đức", "ĐH Nông Lâm"],
    },
    {
      name: "Bình Tân",
      prefix: "quận",
      landmarks: ["Aeon Mall Bình Tân", "bến xe Miền Tây", "chợ Bình Trị Đông"],
    },
  ],
  "Hà Nội": [
    {
      name: "Cầu Giấy",
      prefix: "quận",
      landmarks: [
        "ĐH Quốc Gia Hà Nội",
        "ĐH Sư Phạm Hà Nội",
        "công viên Cầu Giấy",
        "Học viện Báo chí",
      ],
    },
    {
      name: "Đống Đa",
      prefix: "quận",
      landmarks: ["ĐH Y Hà Nội", "Văn Miếu", "ĐH Thủy Lợi", "ĐH Công Đoàn"],
    },
    {
      name: "Thanh Xuân",
      prefix: "quận",
      landmarks: ["Royal City", "ĐH Hà Nội", "ngã tư Sở", "ĐH Khoa Học Tự Nhiên Hà Nội"],
    },
    {
      name: "Hai Bà Trưng",
      prefix: "quận",
      landmarks: [
        "ĐH Bách Khoa Hà Nội",
        "ĐH Kinh Tế Quốc Dân",
        "Times City",
        "công viên Thống Nhất",
      ],
    },
    {
      name: "Ba Đình",
      prefix: "quận",
      landmarks: ["Lăng Bác", "Lotte Center", "công viên Thủ Lệ"],
    },
    {
      name: "Hoàng Mai",
      prefix: "quận",
      landmarks: ["bến xe Giáp Bát", "bán đảo Linh Đàm", "công viên Yên Sở"],
    },
    {
      name: "Nam Từ Liêm",
      prefix: "quận",
      landmarks: ["bến xe Mỹ Đình", "sân vận động Mỹ Đình", "Keangnam"],
    },
    {
      name: "Bắc Từ Liêm",
      prefix: "quận",
      landmarks: ["ĐH Mỏ Địa Chất", "ĐH Công Nghiệp Hà Nội", "công viên Hòa Bình"],
    },
    {
      name: "Hà Đông",
      prefix: "quận",
      landmarks: ["Aeon Mall Hà Đông", "Học viện Bưu chính", "ĐH Kiến Trúc"],
    },
    { name: "Tây Hồ", prefix: "quận", landmarks: ["hồ Tây", "Lotte Mall Tây Hồ", "chợ Quảng An"] },
    {
      name: "Long Biên",
      prefix: "quận",
      landmarks: ["Aeon Mall Long Biên", "Vinhomes Riverside", "cầu Chương Dương"],
    },
    { name: "Hoàn Kiếm", prefix: "quận", landmarks: ["hồ Gươm", "phố cổ", "chợ Đồng Xuân"] },
  ],
};

const CITY_TEXT: Record<string, string[]> = {
  "Hồ Chí Minh": ["TP.HCM", "Sài Gòn", "HCM", "TP Hồ Chí Minh"],
  "Hà Nội": ["Hà Nội", "HN", "Hà Nội", "TP Hà Nội"],
};
const CITY_QUERY: Record<string, string[]> = {
  "Hồ Chí Minh": ["sài gòn", "hcm", "tphcm", "sg"],
  "Hà Nội": ["hà nội", "hn", "hà nội", "hn"],
};

/** A room type of the generator's vocabulary. */
export interface RoomType {
  /** How listings write it. */
  text: string[];
  /** How queries write it. */
  query: string[];
  /** Typical monthly rents (triệu đồng). */
  prices: number[];
  /** Typical areas (m²). */
  areas: number[];
}

/**
 * Room types with rendering variants and plausible price (triệu) and area (m²) values.
 *
 * @example
 * ```ts
 * import { ROOM_TYPES } from "./synthetic.ts";
 * console.log(Object.keys(ROOM_TYPES));
 * ```
 */
export const ROOM_TYPES: Record<string, RoomType> = {
  "phòng trọ": {
    text: ["phòng trọ", "nhà trọ", "phòng trọ khép kín"],
    query: ["phòng trọ", "phòng trọ", "nhà trọ", "trọ"],
    prices: [1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5],
    areas: [12, 14, 15, 16, 18, 20, 22, 25, 28, 30],
  },
  "chung cư mini": {
    text: ["chung cư mini", "CCMN", "căn hộ mini"],
    query: ["chung cư mini", "ccmn", "căn hộ mini", "chung cư mini"],
    prices: [3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7, 8],
    areas: [20, 22, 25, 28, 30, 32, 35, 40],
  },
  "ký túc xá/sleepbox": {
    text: ["ký túc xá", "sleepbox", "KTX", "KTX sleepbox"],
    query: ["ktx", "sleepbox", "ký túc xá", "ktx sleepbox"],
    prices: [0.8, 1, 1.2, 1.5, 1.8, 2, 2.5],
    areas: [4, 5, 6, 8, 10],
  },
  "nhà nguyên căn": {
    text: ["nhà nguyên căn", "nguyên căn", "nhà riêng nguyên căn"],
    query: ["nhà nguyên căn", "nguyên căn", "nhà nguyên căn", "thuê nguyên căn"],
    prices: [6, 7, 8, 9, 10, 12, 15],
    areas: [40, 45, 50, 60, 70, 80, 100],
  },
  "căn hộ dịch vụ": {
    text: ["căn hộ dịch vụ", "CHDV", "căn hộ dv"],
    query: ["căn hộ dịch vụ", "chdv", "căn hộ dv", "căn hộ dịch vụ"],
    prices: [5, 5.5, 6, 7, 8, 9, 10, 12],
    areas: [25, 28, 30, 35, 40, 45, 50],
  },
};
const TYPE_NAMES = Object.keys(ROOM_TYPES);

/**
 * Amenities (canonical name → listing variants, query variants), in rendering order.
 *
 * @example
 * ```ts
 * import { AMENITIES } from "./synthetic.ts";
 * if (!AMENITIES["WC riêng"].text.includes("toilet riêng")) throw new Error("a listing's ways to write it");
 * ```
 */
export const AMENITIES: Record<string, { text: string[]; query: string[] }> = {
  "máy lạnh": {
    text: ["máy lạnh", "điều hòa", "máy lạnh"],
    query: ["có máy lạnh", "máy lạnh", "có điều hòa", "điều hòa"],
  },
  "WC riêng": {
    text: ["wc riêng", "toilet riêng", "vệ sinh riêng", "WC riêng"],
    query: ["wc riêng", "toilet riêng", "vệ sinh riêng", "vs riêng"],
  },
  "gác lửng": {
    text: ["gác lửng", "gác xép", "có gác"],
    query: ["có gác", "gác lửng", "có gác lửng"],
  },
  "ban công": {
    text: ["ban công", "ban công thoáng", "ban công rộng"],
    query: ["có ban công", "ban công"],
  },
  "máy giặt": {
    text: ["máy giặt", "máy giặt riêng", "máy giặt"],
    query: ["có máy giặt", "máy giặt"],
  },
  "thang máy": { text: ["thang máy"], query: ["có thang máy", "thang máy"] },
  "chỗ để xe": {
    text: ["chỗ để xe", "để xe miễn phí", "chỗ để xe rộng"],
    query: ["có chỗ để xe", "để xe free", "chỗ để xe"],
  },
  "nội thất": {
    text: ["full nội thất", "nội thất đầy đủ", "đầy đủ nội thất"],
    query: ["full nội thất", "có nội thất", "đủ nội thất"],
  },
};
const AMENITY_NAMES = Object.keys(AMENITIES);

/** House rules come in opposite pairs; a query may only ask for the first of a pair. */
const RULE_PAIRS: [string, string][] = [
  ["giờ giấc tự do", "giờ giấc cố định"],
  ["không chung chủ", "chung chủ"],
  ["cho nuôi thú cưng", "không nuôi thú cưng"],
];
const RULE_TEXT: Record<string, string[]> = {
  "giờ giấc tự do": ["giờ giấc tự do", "giờ tự do", "đi về tự do"],
  "giờ giấc cố định": ["đóng cửa lúc 23h", "về trước 23h", "giờ giấc cố định 23h"],
  "không chung chủ": ["không chung chủ", "ko chung chủ", "không ở chung chủ"],
  "chung chủ": ["ở chung chủ", "chung chủ", "chủ ở cùng"],
  "cho nuôi thú cưng": ["cho nuôi thú cưng", "nuôi pet thoải mái", "được nuôi thú cưng"],
  "không nuôi thú cưng": ["không nuôi thú cưng", "không nuôi pet", "cấm nuôi thú cưng"],
};
const RULE_QUERY: Record<string, string[]> = {
  "giờ giấc tự do": ["giờ tự do", "giờ giấc tự do", "tự do giờ giấc"],
  "không chung chủ": ["không chung chủ", "ko chung chủ", "k chung chủ"],
  "cho nuôi thú cưng": ["nuôi được pet", "cho nuôi thú cưng", "nuôi mèo được"],
};
const POSITIVE_RULES = RULE_PAIRS.map((p) => p[0]);

// ---------------------------------------------------------------------------------------------
// Rendering

/** How a listing is written: every choice is fixed so negatives re-render identically. */
interface Style {
  template: number;
  district: number;
  city: number;
  type: number;
  price: number;
  area: number;
  amenity: number;
  rule: number;
  minutes: number;
}

const at = <T>(items: readonly T[], i: number): T => items[i % items.length];

function findDistrict(name: string): { city: string; district: District } {
  for (const [city, districts] of Object.entries(CITIES)) {
    const d = districts.find((x) => x.name === name);
    if (d) return { city, district: d };
  }
  throw new Error(`unknown district ${name}`);
}

function findLandmark(name: string): { city: string; district: District } {
  for (const [city, districts] of Object.entries(CITIES)) {
    const d = districts.find((x) => x.landmarks.includes(name));
    if (d) return { city, district: d };
  }
  throw new Error(`unknown landmark ${name}`);
}

function districtText(d: District, style: number): string {
  if (d.num !== undefined) {
    return at(["q{n}", "Q.{n}", "quận {n}", "Q{n}"], style).replace("{n}", `${d.num}`);
  }
  const p = d.prefix === "TP" ? "TP" : "quận";
  return at([`${p} ${d.name}`, `${p === "TP" ? "TP." : "Q."} ${d.name}`, d.name, d.name], style);
}

function districtQuery(d: District, style: number): string {
  if (d.num !== undefined) {
    return at(["q{n}", "quận {n}", "q{n}", "q.{n}"], style).replace("{n}", `${d.num}`);
  }
  const name = d.name.toLowerCase();
  return at([name, `quận ${name}`, name, `q ${name}`], style);
}

function tenths(p: number): number {
  return Math.round(p * 10);
}

/**
 * Render a price in triệu in one of four common styles: 3tr5, 3,5 triệu, 3.500.000đ, 3.5tr.
 *
 * @example
 * ```ts
 * import { priceText } from "./synthetic.ts";
 * const styles = [0, 1, 2, 3].map((s) => priceText(3.5, s)).join(", ");
 * if (styles !== "3tr5, 3,5 triệu, 3.500.000đ, 3.5tr") throw new Error(styles);
 * ```
 */
export function priceText(p: number, style: number): string {
  const t = tenths(p);
  const whole = Math.floor(t / 10);
  const dec = t % 10;
  switch (style % 4) {
    case 0:
      if (whole === 0) return `${dec * 100}k`;
      return dec === 0 ? `${whole}tr` : `${whole}tr${dec}`;
    case 1:
      return dec === 0 ? `${whole} triệu` : `${whole},${dec} triệu`;
    case 2:
      return `${(t * 100000).toLocaleString("de-DE")}đ`;
    default:
      return dec === 0 ? `${whole}tr` : `${whole}.${dec}tr`;
  }
}

function areaText(a: number, style: number): string {
  return at([`${a}m2`, `${a} m²`, `${a}m²`], style);
}

function amenityText(f: Features, style: number, sep: string): string {
  return AMENITY_NAMES.filter((a) => f.amenities.includes(a)).map((a) =>
    at(AMENITIES[a].text, style)
  )
    .join(sep);
}

function rulesText(f: Features, style: number): string {
  return f.rules.map((r) => at(RULE_TEXT[r], style)).join(", ");
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Listing templates, in the shapes real posts take. */
const TEMPLATES: ((f: Features, s: Style) => string)[] = [
  (f, s) =>
    `Cho thuê ${T(f, s)} ${D(f, s)}, ${C(f, s)}. Diện tích ${A(f, s)}, giá ${P(f, s)}/tháng. ` +
    `Tiện ích: ${amenityText(f, s.amenity, ", ")}. ${
      cap(rulesText(f, s.rule))
    }. Gần ${f.landmark}.`,
  (f, s) =>
    `${cap(T(f, s))} ${D(f, s)} ${C(f, s)} giá chỉ ${P(f, s)}, ${A(f, s)}, ` +
    `${amenityText(f, s.amenity, ", ")}, ${rulesText(f, s.rule)}. Cách ${f.landmark} ${
      M(s)
    } phút đi bộ.`,
  (f, s) =>
    `[${D(f, s)}] Còn trống ${T(f, s)} ${A(f, s)} - ${P(f, s)}/tháng - ` +
    `${amenityText(f, s.amenity, " - ")} - ${rulesText(f, s.rule)} - gần ${f.landmark} (${
      C(f, s)
    }), ib mình nha`,
  (f, s) =>
    `Chính chủ cho thuê ${T(f, s)} mới xây tại ${D(f, s)}, ${C(f, s)}, gần ${f.landmark}. ` +
    `Giá thuê: ${P(f, s)}. DT: ${A(f, s)}. Có ${amenityText(f, s.amenity, ", ")}. ` +
    `${cap(rulesText(f, s.rule))}. LH xem phòng ngay.`,
  (f, s) =>
    `${cap(T(f, s))} ${A(f, s)} ở ${D(f, s)} ${C(f, s)}: ${amenityText(f, s.amenity, " + ")}; ` +
    `${rulesText(f, s.rule)}. Giá ${P(f, s)}. Vị trí gần ${f.landmark}, đi lại thuận tiện.`,
  (f, s) =>
    `Trống ${T(f, s)} cuối tháng ở ${D(f, s)} (${C(f, s)}), ${M(s)} phút tới ${f.landmark}. ` +
    `${A(f, s)}, ${P(f, s)}/th. ${cap(amenityText(f, s.amenity, ", "))}. ${
      cap(rulesText(f, s.rule))
    }.`,
];

function T(f: Features, s: Style): string {
  return at(ROOM_TYPES[f.room_type].text, s.type);
}
function D(f: Features, s: Style): string {
  return districtText(findDistrict(f.district).district, s.district);
}
function C(f: Features, s: Style): string {
  return at(CITY_TEXT[f.city], s.city);
}
function P(f: Features, s: Style): string {
  return priceText(f.price, s.price);
}
function A(f: Features, s: Style): string {
  return areaText(f.area, s.area);
}
function M(s: Style): string {
  return at(["3", "5", "5", "10", "7"], s.minutes);
}

function render(f: Features, s: Style): string {
  return TEMPLATES[s.template % TEMPLATES.length](f, s);
}

function randomStyle(rng: Rng): Style {
  const r = () => rng.int(60);
  return {
    template: rng.int(TEMPLATES.length),
    district: r(),
    city: r(),
    type: r(),
    price: r(),
    area: r(),
    amenity: r(),
    rule: r(),
    minutes: r(),
  };
}

/**
 * Lowercase-insensitive Vietnamese without diacritics ("phòng trọ" → "phong tro").
 *
 * @example
 * ```ts
 * import { stripDiacritics } from "./synthetic.ts";
 * if (JSON.stringify(stripDiacritics("phòng trọ đống đa")) !== JSON.stringify("phong tro dong da")) throw new Error(`got ${JSON.stringify(stripDiacritics("phòng trọ đống đa"))}`);
 * ```
 */
export function stripDiacritics(s: string): string {
  return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d").replace(/Đ/g, "D")
    .normalize("NFC");
}

// ---------------------------------------------------------------------------------------------
// Listings, queries, constraints

function randomListing(rng: Rng): Features {
  const city = rng.next() < 0.55 ? "Hồ Chí Minh" : "Hà Nội";
  const district = rng.pick(CITIES[city]);
  const typeRoll = rng.next();
  const room_type = typeRoll < 0.4
    ? "phòng trọ"
    : typeRoll < 0.65
    ? "chung cư mini"
    : typeRoll < 0.77
    ? "ký túc xá/sleepbox"
    : typeRoll < 0.87
    ? "nhà nguyên căn"
    : "căn hộ dịch vụ";
  const rt = ROOM_TYPES[room_type];
  const nAmen = 3 + rng.int(3);
  const amenities = rng.shuffle([...AMENITY_NAMES]).slice(0, nAmen);
  const pairs = rng.shuffle([...RULE_PAIRS]).slice(0, 1 + rng.int(2));
  const rules = pairs.map((p) => (rng.next() < 0.7 ? p[0] : p[1]));
  return {
    city,
    district: district.name,
    landmark: rng.pick(district.landmarks),
    price: rng.pick(rt.prices),
    area: rng.pick(rt.areas),
    room_type,
    amenities: AMENITY_NAMES.filter((a) => amenities.includes(a)),
    rules: POSITIVE_RULES.flatMap((_, i) => rules.filter((r) => RULE_PAIRS[i].includes(r))),
  };
}

/**
 * The constraints of `c` that `f` violates, by feature name (empty when `f` satisfies `c`).
 *
 * @example
 * ```ts
 * import { violations } from "./synthetic.ts";
 * const f = { city: "Hồ Chí Minh", district: "Quận 10", landmark: "ĐH Bách Khoa", price: 3.5,
 *   area: 20, room_type: "phòng trọ", amenities: ["máy lạnh"], rules: [] };
 * if (JSON.stringify(violations(f, { district: "Quận 10", price: { max: 3 } })) !== JSON.stringify(["price"])) throw new Error(`got ${JSON.stringify(violations(f, { district: "Quận 10", price: { max: 3 } }))}`);
 * ```
 */
export function violations(f: Features, c: Constraints): string[] {
  const out: string[] = [];
  if (c.city !== undefined && f.city !== c.city) out.push("city");
  if (c.district !== undefined && f.district !== c.district) out.push("district");
  if (c.landmark !== undefined && f.landmark !== c.landmark) out.push("landmark");
  if (c.price !== undefined) {
    const t = tenths(f.price);
    if (
      (c.price.min !== undefined && t < tenths(c.price.min)) ||
      (c.price.max !== undefined && t > tenths(c.price.max))
    ) out.push("price");
  }
  if (c.area !== undefined && f.area < c.area.min) out.push("area");
  if (c.room_type !== undefined && f.room_type !== c.room_type) out.push("room_type");
  if (c.amenities?.some((a) => !f.amenities.includes(a))) out.push("amenities");
  if (c.rules?.some((r) => !f.rules.includes(r))) out.push("rules");
  return out;
}

type Atom =
  | { kind: "city" | "district" | "landmark" | "price" | "area" | "room_type" }
  | { kind: "amenity"; name: string }
  | { kind: "rule"; name: string };

const ROUND_AREAS = [15, 20, 25, 30, 35, 40, 50, 60, 80];

/** Pick 1–4 atomic constraints the listing satisfies and render a colloquial query for them. */
function makeQuery(f: Features, rng: Rng): { query: string; constraints: Constraints } {
  const roll = rng.next();
  const n = roll < 0.2 ? 1 : roll < 0.55 ? 2 : roll < 0.85 ? 3 : 4;
  const pool: { atom: Atom; w: number }[] = [];
  const locRoll = rng.next();
  const loc: Atom = {
    kind: n === 1
      ? (locRoll < 0.85 ? "district" : "city")
      : (locRoll < 0.65 ? "district" : locRoll < 0.88 ? "landmark" : "city"),
  };
  pool.push({ atom: loc, w: 3 });
  pool.push({ atom: { kind: "price" }, w: 2.2 });
  pool.push({ atom: { kind: "room_type" }, w: 1.5 });
  const canArea = ROUND_AREAS.some((a) => a < f.area) && f.room_type !== "ký túc xá/sleepbox";
  if (canArea) pool.push({ atom: { kind: "area" }, w: 0.7 });
  if (n > 1) {
    for (const a of f.amenities) pool.push({ atom: { kind: "amenity", name: a }, w: 0.35 });
    for (const r of f.rules) {
      if (POSITIVE_RULES.includes(r)) pool.push({ atom: { kind: "rule", name: r }, w: 0.5 });
    }
  }
  const chosen: Atom[] = [];
  while (chosen.length < n && pool.length > 0) {
    const total = pool.reduce((s, p) => s + p.w, 0);
    let x = rng.next() * total;
    let i = 0;
    while (i < pool.length - 1 && x >= pool[i].w) x -= pool[i++].w;
    const atom = pool.splice(i, 1)[0].atom;
    if (atom.kind === "amenity" && chosen.filter((a) => a.kind === "amenity").length >= 2) continue;
    if (atom.kind === "rule" && chosen.some((a) => a.kind === "rule")) continue;
    chosen.push(atom);
  }
  const c: Constraints = {};
  const has = (k: Atom["kind"]) => chosen.some((a) => a.kind === k);
  const parts: { slot: number; text: string }[] = [];
  const ds = rng.int(60);
  if (has("district")) {
    c.district = f.district;
    let t = districtQuery(findDistrict(f.district).district, ds);
    if (rng.next() < 0.25) t += " " + at(CITY_QUERY[f.city], ds);
    parts.push({ slot: 1, text: rng.pick(["", "", "ở ", "tại ", "khu "]) + t });
  }
  if (has("city")) {
    c.city = f.city;
    parts.push({
      slot: 1,
      text: rng.pick(["ở ", "tại ", "", "khu vực "]) + at(CITY_QUERY[f.city], ds),
    });
  }
  if (has("landmark")) {
    c.landmark = f.landmark;
    const lm = rng.next() < 0.6 ? f.landmark.toLowerCase() : f.landmark;
    parts.push({ slot: 1, text: rng.pick(["gần ", "gần ", "quanh ", "sát "]) + lm });
  }
  if (has("room_type")) {
    c.room_type = f.room_type;
    parts.push({ slot: 0, text: rng.pick(ROOM_TYPES[f.room_type].query) });
  } else {
    parts.push({ slot: 0, text: rng.pick(["phòng", "phòng", "chỗ ở", "phòng trống", ""]) });
  }
  if (has("price")) {
    const ps = rng.int(4);
    const pq = (p: number) => ps === 2 ? priceText(p, 0) : priceText(p, ps);
    const form = rng.next();
    const t = tenths(f.price);
    if (form < 0.55) {
      const max = (Math.ceil(t / 5) * 5 + 5 * rng.int(2)) / 10;
      c.price = { max };
      let text = rng.pick(["dưới ", "dưới ", "< ", "không quá ", "giá dưới ", "max "]) + pq(max);
      if (rng.next() < 0.2) text = `tầm ${pq(max)} đổ lại`;
      if (max <= 2.5 && rng.next() < 0.5) text += " giá rẻ";
      parts.push({ slot: 2, text });
    } else if (form < 0.8) {
      const mid = Math.round(t / 5) * 5 / 10;
      c.price = { min: Math.max(0, mid - 0.5), max: mid + 0.5 };
      parts.push({
        slot: 2,
        text: rng.pick(["khoảng ", "tầm ", "giá tầm ", "giá khoảng "]) + pq(mid),
      });
    } else {
      const lo = Math.max(0.5, Math.floor(t / 10) - rng.int(2));
      const hi = Math.max(lo + 1, Math.ceil(t / 10)) + rng.int(2);
      c.price = { min: lo, max: hi };
      parts.push({
        slot: 2,
        text: rng.pick([
          `từ ${pq(lo)} đến ${pq(hi)}`,
          `${pq(lo)} - ${pq(hi)}`,
          `giá ${pq(lo)}-${pq(hi)}`,
        ]),
      });
    }
  }
  if (has("area")) {
    const opts = ROUND_AREAS.filter((a) => a < f.area);
    const min = opts[Math.max(0, opts.length - 1 - rng.int(2))];
    c.area = { min };
    const unit = rng.pick(["m2", "m2", "m²", "m"]);
    parts.push({
      slot: 3,
      text: rng.pick([
        `trên ${min}${unit}`,
        `rộng ${min}${unit} trở lên`,
        `>${min}${unit}`,
        `dt trên ${min}${unit}`,
      ]),
    });
  }
  const amen = chosen.filter((a) => a.kind === "amenity").map((a) => (a as { name: string }).name);
  if (amen.length > 0) {
    c.amenities = AMENITY_NAMES.filter((a) => amen.includes(a));
    for (const a of c.amenities) parts.push({ slot: 4, text: rng.pick(AMENITIES[a].query) });
  }
  const rule = chosen.find((a) => a.kind === "rule") as { name: string } | undefined;
  if (rule) {
    c.rules = [rule.name];
    parts.push({ slot: 5, text: rng.pick(RULE_QUERY[rule.name]) });
  }
  // Colloquial order: mostly "type location price extras", sometimes price before location.
  if (rng.next() < 0.25) { for (const p of parts) if (p.slot === 2) p.slot = 0.5; }
  parts.sort((a, b) => a.slot - b.slot);
  const words = parts.map((p) => p.text).filter((t) => t !== "");
  let query = words.join(rng.next() < 0.8 ? " " : ", ");
  const prefix = rng.pick([
    "",
    "",
    "",
    "tìm ",
    "cần thuê ",
    "cần tìm ",
    "thuê ",
    "ai có ",
    "tìm gấp ",
  ]);
  const suffix = rng.pick(["", "", "", "", " ạ", " nha", " gấp", " ko ạ"]);
  query = prefix + query + suffix;
  query = query.toLowerCase();
  if (rng.next() < 0.3) query = stripDiacritics(query);
  return { query: query.replace(/\s+/g, " ").trim(), constraints: c };
}

/** A new listing that satisfies `c` (used for duplicate queries with a different positive). */
function conform(c: Constraints, rng: Rng): Features | null {
  for (let tries = 0; tries < 50; tries++) {
    const f = randomListing(rng);
    if (c.room_type) f.room_type = c.room_type;
    const rt = ROOM_TYPES[f.room_type];
    f.price = rng.pick(rt.prices);
    f.area = rng.pick(rt.areas);
    if (c.city && f.city !== c.city) {
      f.city = c.city;
      const d = rng.pick(CITIES[c.city]);
      f.district = d.name;
      f.landmark = rng.pick(d.landmarks);
    }
    if (c.district) {
      const { city, district } = findDistrict(c.district);
      f.city = city;
      f.district = district.name;
      f.landmark = rng.pick(district.landmarks);
    }
    if (c.landmark) {
      const { city, district } = findLandmark(c.landmark);
      f.city = city;
      f.district = district.name;
      f.landmark = c.landmark;
    }
    if (c.price) {
      const ok = rt.prices.filter((p) =>
        violations({ ...f, price: p }, { price: c.price }).length === 0
      );
      if (ok.length === 0) continue;
      f.price = rng.pick(ok);
    }
    if (c.area) {
      const ok = rt.areas.filter((a) => a > c.area!.min);
      if (ok.length === 0) continue;
      f.area = rng.pick(ok);
    }
    for (const a of c.amenities ?? []) if (!f.amenities.includes(a)) f.amenities.push(a);
    f.amenities = AMENITY_NAMES.filter((a) => f.amenities.includes(a));
    for (const r of c.rules ?? []) {
      const pair = RULE_PAIRS.find((p) => p[0] === r)!;
      f.rules = f.rules.filter((x) => !pair.includes(x));
      f.rules.push(r);
    }
    f.rules = RULE_PAIRS.flatMap((p) => f.rules.filter((r) => p.includes(r)));
    if (violations(f, c).length === 0) return f;
  }
  return null;
}

/** Change one constrained feature of `f` so that it violates `c`; null when impossible. */
function perturb(f: Features, c: Constraints, key: string, rng: Rng): Features | null {
  const g: Features = { ...f, amenities: [...f.amenities], rules: [...f.rules] };
  switch (key) {
    case "city": {
      const other = Object.keys(CITIES).find((x) => x !== f.city)!;
      const d = rng.pick(CITIES[other]);
      g.city = other;
      g.district = d.name;
      g.landmark = rng.pick(d.landmarks);
      break;
    }
    case "district": {
      const d = rng.pick(CITIES[f.city].filter((x) => x.name !== f.district));
      g.district = d.name;
      g.landmark = rng.pick(d.landmarks);
      break;
    }
    case "landmark": {
      const lms = findDistrict(f.district).district.landmarks.filter((l) => l !== f.landmark);
      if (lms.length === 0) return null;
      g.landmark = rng.pick(lms);
      break;
    }
    case "price": {
      const t = tenths(f.price);
      const lo = c.price!.min !== undefined ? tenths(c.price!.min) : undefined;
      const hi = c.price!.max !== undefined ? tenths(c.price!.max) : undefined;
      const opts: number[] = [];
      if (hi !== undefined) { for (const d of [5, 10, 15, 20, 30]) opts.push(hi + d); }
      if (lo !== undefined) { for (const d of [5, 10, 15]) if (lo - d >= 5) opts.push(lo - d); }
      const cand = opts.filter((x) => x !== t);
      if (cand.length === 0) return null;
      g.price = rng.pick(cand) / 10;
      break;
    }
    case "area": {
      const opts = [...new Set([...ROUND_AREAS, 10, 12, 14, 16, 18, 22])].filter((a) =>
        a < c.area!.min && a >= 8
      );
      if (opts.length === 0) return null;
      g.area = rng.pick(opts);
      break;
    }
    case "room_type":
      g.room_type = rng.pick(TYPE_NAMES.filter((t) => t !== f.room_type));
      break;
    case "amenities": {
      const q = c.amenities!;
      const drop = q.length > 1 && rng.next() < 0.3 ? q : [rng.pick(q)];
      g.amenities = g.amenities.filter((a) => !drop.includes(a));
      break;
    }
    case "rules": {
      const r = c.rules![0];
      const pair = RULE_PAIRS.find((p) => p[0] === r)!;
      g.rules = g.rules.map((x) => (x === r ? pair[1] : x));
      break;
    }
    default:
      throw new Error(`cannot perturb ${key}`);
  }
  return g;
}

/**
 * Every feature a query can constrain, in a fixed order.
 *
 * @example
 * ```ts
 * import { CONSTRAINT_KEYS } from "./synthetic.ts";
 * if (JSON.stringify(CONSTRAINT_KEYS.includes("district")) !== JSON.stringify(true)) throw new Error(`got ${JSON.stringify(CONSTRAINT_KEYS.includes("district"))}`);
 * ```
 */
export const CONSTRAINT_KEYS: readonly string[] = [
  "city",
  "district",
  "landmark",
  "price",
  "area",
  "room_type",
  "amenities",
  "rules",
];

/** Feature names a query constrains (in {@link CONSTRAINT_KEYS} order). */
function constrainedKeys(c: Constraints): string[] {
  return CONSTRAINT_KEYS.filter((k) => (c as Record<string, unknown>)[k] !== undefined);
}

function makeNegatives(
  f: Features,
  c: Constraints,
  style: Style,
  positiveText: string,
  rng: Rng,
): GeneratedExample["negatives"] | null {
  const keys = constrainedKeys(c);
  const target = 3 + rng.int(5);
  const out: GeneratedExample["negatives"] = [];
  const seen = new Set([positiveText]);
  for (let tries = 0; tries < 80 && out.length < target; tries++) {
    const two = keys.length >= 2 && rng.next() < 0.3;
    const pick = two ? rng.shuffle([...keys]).slice(0, 2) : [rng.pick(keys)];
    pick.sort((a, b) => keys.indexOf(a) - keys.indexOf(b));
    let g: Features | null = f;
    for (const k of pick) {
      g = g && perturb(g, c, k, rng);
    }
    if (!g) continue;
    const differs = violations(g, c);
    // Every changed feature must violate the query, and at most two features may.
    if (differs.length !== pick.length || differs.some((d) => !pick.includes(d))) continue;
    const text = render(g, style);
    if (seen.has(text)) continue;
    seen.add(text);
    out.push({ text, differs, features: g });
  }
  return out.length >= 3 ? out : null;
}

// ---------------------------------------------------------------------------------------------
// Generation

/**
 * Options of {@link generate}.
 */
export interface GenerateOptions {
  /** Number of examples. */
  count: number;
  /** PRNG seed; the same seed gives byte-identical output. */
  seed: number;
  /** Fraction of examples that repeat an earlier query with a different positive (default 0.08). */
  duplicateFraction?: number;
}

/**
 * Generate the examples (deterministic in `seed`).
 *
 * @example
 * ```ts
 * import { generateExamples } from "./synthetic.ts";
 * const ex = generateExamples({ count: 5, seed: 1 });
 * console.log(ex[0].query, ex[0].negatives.length);
 * ```
 */
export function generateExamples(opts: GenerateOptions): GeneratedExample[] {
  const rng = new Rng(opts.seed);
  const dupFraction = opts.duplicateFraction ?? 0.08;
  const out: GeneratedExample[] = [];
  const seen = new Set<string>(); // query + positive text pairs already generated
  while (out.length < opts.count) {
    let query: string;
    let constraints: Constraints;
    let f: Features | null;
    if (out.length >= 10 && rng.next() < dupFraction) {
      const prev = out[rng.int(out.length)];
      query = prev.query;
      constraints = prev.constraints;
      f = conform(constraints, rng);
      if (!f) continue;
    } else {
      f = randomListing(rng);
      ({ query, constraints } = makeQuery(f, rng));
    }
    const style = randomStyle(rng);
    const text = render(f, style);
    const key = `${query}\u0000${text}`;
    if (seen.has(key)) continue;
    const negatives = makeNegatives(f, constraints, style, text, rng);
    if (!negatives) continue;
    seen.add(key);
    out.push({ query, constraints, positive: { text, features: f }, negatives });
  }
  return out;
}

/**
 * Generate the dataset and serialise it as the native JSON format: one example per line, so the
 * committed file diffs well. The same options give identical bytes.
 *
 * @example
 * ```ts
 * import { generate } from "./synthetic.ts";
 * const json = generate({ count: 3, seed: 42 });
 * if (JSON.stringify(JSON.parse(json).examples.length) !== JSON.stringify(3)) throw new Error(`got ${JSON.stringify(JSON.parse(json).examples.length)}`);
 * ```
 */
export function generate(opts: GenerateOptions): string {
  return [...generateParts(opts)].join("");
}

/**
 * The text of {@link generate} in pieces (header, one piece per example, footer), so a large
 * dataset can be written without building one string (V8 strings stop at about 512 MB).
 *
 * @example
 * ```ts
 * import { generateParts } from "./synthetic.ts";
 * if (JSON.stringify([...generateParts({ count: 2, seed: 42 })].length) !== JSON.stringify(4)) throw new Error(`got ${JSON.stringify([...generateParts({ count: 2, seed: 42 })].length)}`);
 * ```
 */
export function* generateParts(opts: GenerateOptions): Generator<string> {
  const examples = generateExamples(opts);
  yield `{\n  "version": 1,\n  "generator": ${
    JSON.stringify(`scripts/gen_data.ts --count ${opts.count} --seed ${opts.seed}`)
  },\n  "examples": [\n`;
  for (let i = 0; i < examples.length; i++) {
    yield (i > 0 ? ",\n" : "") + "    " + JSON.stringify(examples[i]);
  }
  yield `\n  ]\n}\n`;
}

/**
 * Write {@link generateParts} to `path`, streamed to a temporary file and then
 * renamed (atomic, and no 600 MB string at 200k examples). Returns the bytes
 * written. A failure removes the temporary file and leaves `path` as it was.
 *
 * @example
 * ```ts
 * import { writeSyntheticDataset } from "./synthetic.ts";
 * const path = await Deno.makeTempFile({ suffix: ".json" });
 * const bytes = await writeSyntheticDataset(path, { count: 3, seed: 1 });
 * const data = JSON.parse(await Deno.readTextFile(path));
 * if (bytes <= 0 || data.examples.length !== 3) throw new Error("3 examples");
 * await Deno.remove(path);
 * ```
 */
export async function writeSyntheticDataset(path: string, opts: GenerateOptions): Promise<number> {
  const tmp = `${path}.${Deno.pid}.tmp`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  let bytes = 0;
  try {
    const enc = new TextEncoder();
    let buf: string[] = [];
    let size = 0;
    const flush = async () => {
      const b = enc.encode(buf.join(""));
      for (let o = 0; o < b.length;) o += await file.write(b.subarray(o));
      bytes += b.length;
      buf = [];
      size = 0;
    };
    for (const part of generateParts(opts)) {
      buf.push(part);
      size += part.length;
      if (size >= 1 << 20) await flush();
    }
    await flush();
    file.close();
    await Deno.rename(tmp, path);
  } catch (err) {
    try {
      file.close();
    } catch { /* closed */ }
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  return bytes;
}
