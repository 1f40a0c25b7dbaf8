import { assertEquals } from "./assert.ts";
import {
  foldText,
  matchingFeatures,
  matchingValues,
  numericConstraints,
} from "../lib/serve/highlight.ts";

const META = {
  city: "Hồ Chí Minh",
  district: "Quận 10",
  landmark: "ĐH Bách Khoa",
  price: 3,
  area: 20,
  room_type: "chung cư mini",
  amenities: ["máy lạnh", "WC riêng"],
  rules: ["giờ giấc tự do"],
};

Deno.test("highlight: folding drops diacritics, case and punctuation", () => {
  assertEquals(foldText("Phòng trọ Q.10, ĐH Bách Khoa!"), "phong tro q 10 dh bach khoa");
  assertEquals(foldText("  Hà   Nội "), "ha noi");
});

Deno.test("highlight: abbreviations and unaccented queries name the same features", () => {
  assertEquals(matchingFeatures("ccmn q10 gần đh bách khoa", META), [
    "district",
    "landmark",
    "room_type",
  ]);
  assertEquals(matchingFeatures("phong tro quan 10 hcm co may lanh", META), [
    "city",
    "district",
    "amenities",
  ]);
  assertEquals(matchingFeatures("phòng Q.10 toilet riêng", META), ["district", "amenities"]);
  // "q1" is not "Quận 10", and "hà nội" is not "Hồ Chí Minh".
  assertEquals(matchingFeatures("phòng q1 hà nội", META), []);
  assertEquals(matchingValues("có wc riêng", ["máy lạnh", "WC riêng"]), ["WC riêng"]);
});

Deno.test("highlight: budgets and minimum areas are read from the query", () => {
  assertEquals(numericConstraints("phòng dưới 3tr5, trên 20m2"), { priceMax: 3.5, areaMin: 20 });
  assertEquals(numericConstraints("phong toi da 4 trieu"), { priceMax: 4 });
  assertEquals(numericConstraints("ccmn >=25m2"), { areaMin: 25 });
  assertEquals(numericConstraints("phòng q10"), {});
  assertEquals(matchingFeatures("dưới 3tr5 rộng hơn 15m2", META), ["price", "area"]);
  assertEquals(matchingFeatures("dưới 2tr5 trên 25m2", META), []);
});
