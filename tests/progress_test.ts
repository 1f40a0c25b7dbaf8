import { assert, assertEquals, assertMatch, assertStringIncludes } from "./assert.ts";
import { encodeReporter, planMessage, Progress } from "../lib/cli/progress.ts";

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

Deno.test("encodeReporter: plan, an estimate without the warm-up, a recheck, summary", () => {
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
  t = 2000;
  r.update(32, 200_000); // first batch after a 2 s warm-up: too early for an estimate
  t = 4000;
  r.update(232, 200_000);
  assertEquals(logs.length, 1);
  t = 6000;
  r.update(432, 200_000); // 100 texts/s since the first batch (the warm-up is not counted)
  assertEquals(logs.length, 2);
  assertMatch(logs[1], /^estimate: 100\.0 texts\/s after 432 texts → 33:16 left/);
  assertStringIncludes(logs[1], "about 33:22 in all");
  t = 7000;
  r.update(532, 200_000);
  assertEquals(logs.length, 2); // not again before the recheck
  t = 12_000;
  r.update(1032, 200_000);
  assertEquals(err.length, 1); // the plain line at 10 s
  assertStringIncludes(err[0], "1032/200000 (0.5%) | 86.0 texts/s");
  // At 30 s the rate doubled: the projected total moved by more than 25 %, so it is updated once.
  t = 30_000;
  r.update(4632, 200_000);
  assertEquals(logs.length, 3);
  assertMatch(logs[2], /^estimate \(updated\): 164\.3 texts\/s/);
  t = 60_000;
  r.update(9632, 200_000);
  assertEquals(logs.length, 3);
  r.done();
  r.done();
  assertEquals(logs.length, 4);
  assertStringIncludes(logs[3], "encode: 9,632 texts in 1:00 (160.5 texts/s)");
});

Deno.test("encodeReporter: a steady rate is not re-estimated", () => {
  let t = 0;
  const logs: string[] = [];
  const r = encodeReporter({ tty: false, log: (s) => logs.push(s), write: () => {}, now: () => t });
  r.plan({ total: 1000, cached: 0, toEncode: 1000 });
  for (let i = 1; i <= 40; i++) {
    t = i * 1000;
    r.update(i * 10, 1000);
  }
  assertEquals(logs.filter((l) => l.startsWith("estimate")).length, 1);
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
