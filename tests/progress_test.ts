import { assert, assertEquals, assertMatch, assertStringIncludes } from "./assert.ts";
import { encodeReporter, planMessage, Progress } from "../lib/progress.ts";

Deno.test("Progress: without a terminal, a plain line every plainIntervalMs, none otherwise", () => {
  let t = 0;
  const out: string[] = [];
  const bar = new Progress(1000, {
    label: "encode",
    unit: "texts",
    enabled: false,
    plainIntervalMs: 10_000,
    write: (s) => out.push(s),
    now: () => t,
  });
  for (let i = 1; i <= 25; i++) {
    t = i * 1000;
    bar.update(i * 10);
  }
  assertEquals(out.length, 2); // at 10 s and 20 s
  assertEquals(out[0], "encode 100/1000 (10.0%) | 10.0 texts/s | ETA 1:30\n");
  assert(!out.join("").includes("█"));
  const silent: string[] = [];
  const none = new Progress(10, { enabled: false, write: (s) => silent.push(s), now: () => t });
  t += 60_000;
  none.update(5);
  assertEquals(silent, []);
});

Deno.test("encodeReporter: plan, one estimate after the first seconds, summary", () => {
  let t = 0;
  const logs: string[] = [];
  const err: string[] = [];
  const r = encodeReporter({
    tty: false,
    log: (s) => logs.push(s),
    write: (s) => err.push(s),
    now: () => t,
  });
  r.plan({ total: 205_885, cached: 5_885, toEncode: 200_000 });
  assertEquals(logs[0], "resumed: 5,885 of 205,885 texts already cached; encoding 200,000");
  // The clock starts at plan(): the first batch counts.
  t = 1000;
  r.update(32, 200_000); // first batch: too early for an estimate
  assertEquals(logs.length, 1);
  t = 4000;
  r.update(320, 200_000);
  assertEquals(logs.length, 2);
  assertMatch(logs[1], /^estimate: 80\.0 texts\/s after 320 texts → 41:36 left/);
  assertStringIncludes(logs[1], "about 41:40 in all");
  t = 5000;
  r.update(400, 200_000);
  assertEquals(logs.length, 2); // only once
  t = 12_000;
  r.update(960, 200_000);
  assertEquals(err.length, 1);
  assertStringIncludes(err[0], "960/200000 (0.5%) | 80.0 texts/s");
  r.done();
  r.done();
  assertEquals(logs.length, 3);
  assertStringIncludes(logs[2], "encode: 960 texts in 0:12");
});

Deno.test("planMessage: nothing cached, all cached, resumed", () => {
  assertEquals(
    planMessage({ total: 10, cached: 0, toEncode: 10 }),
    "cache: 10 texts to encode (none cached yet)",
  );
  assertEquals(
    planMessage({ total: 10, cached: 10, toEncode: 0 }),
    "cache: all 10 texts already cached",
  );
  assertStringIncludes(planMessage({ total: 10, cached: 4, toEncode: 6 }), "resumed: 4 of 10");
});
