import { assertEquals, assertThrows } from "./assert.ts";
import {
  ConfigError,
  configFromFlags,
  DEFAULT_CONFIG,
  matryoshkaDims,
  readConfigFile,
  resolveConfig,
  TRAIN_COMMAND,
  validateConfigObject,
} from "../lib/train/config.ts";
import { CliError, parseCommand } from "../lib/cli/cli.ts";

Deno.test("config: flags override the file, the file overrides defaults", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/cfg.json`;
  await Deno.writeTextFile(path, JSON.stringify({ epochs: 5, lr: 0.01, "batch-size": 32 }));
  const file = await readConfigFile(path);
  const { flags } = parseCommand(["--epochs", "2", "--no-symmetric"], TRAIN_COMMAND);
  const cfg = resolveConfig(file, configFromFlags(flags));
  assertEquals(cfg.epochs, 2); // flag wins
  assertEquals(cfg.lr, 0.01); // file wins over default
  assertEquals(cfg.batchSize, 32); // kebab-case key in the file
  assertEquals(cfg.symmetric, false); // --no-symmetric
  assertEquals(cfg.temperature, DEFAULT_CONFIG.temperature); // default
});

Deno.test("config: the committed example config is valid and matches the defaults", async () => {
  const file = await readConfigFile("config.example.json");
  assertEquals(resolveConfig(file), resolveConfig());
});

Deno.test("config: bad values and unknown keys name the file and key", () => {
  assertThrows(
    () => validateConfigObject({ epoch: 3 }, "c.json"),
    ConfigError,
    'c.json: unknown key "epoch"',
  );
  assertThrows(
    () => validateConfigObject({ weighting: "log" }, "c.json"),
    ConfigError,
    '"weighting" must be one of exp|logit',
  );
  assertThrows(
    () => validateConfigObject({ lr: "fast" }, "c.json"),
    ConfigError,
    '"lr" must be a number',
  );
  assertThrows(
    () => validateConfigObject({ epochs: 0 }, "c.json"),
    ConfigError,
    "must be an integer >= 1",
  );
  assertThrows(() => validateConfigObject([], "c.json"), ConfigError, "must be a JSON object");
});

Deno.test("config: unknown flags and bad flag values name the flag and the allowed values", () => {
  assertThrows(
    () => parseCommand(["--epoch", "3"], TRAIN_COMMAND),
    CliError,
    "unknown flag --epoch",
  );
  assertThrows(
    () => parseCommand(["--device", "tpu"], TRAIN_COMMAND),
    CliError,
    "--device must be one of auto|ort|wasm|cpu|gpu",
  );
  assertThrows(
    () => parseCommand(["--lr", "abc"], TRAIN_COMMAND),
    CliError,
    "--lr must be a number",
  );
  assertThrows(() => parseCommand(["--batch-size", "1.5"], TRAIN_COMMAND), CliError, "integer");
});

Deno.test("config: a missing or broken config file is a clear error", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/bad.json`, "{ epochs: ");
  await readConfigFile(`${dir}/nope.json`).then(
    () => {
      throw new Error("expected an error");
    },
    (e) => assertEquals(e.message, `config file not found: ${dir}/nope.json`),
  );
  await readConfigFile(`${dir}/bad.json`).then(
    () => {
      throw new Error("expected an error");
    },
    (e) => assertEquals(e.message.startsWith(`${dir}/bad.json: invalid JSON`), true),
  );
});

Deno.test("config: --matryoshka and --dims-weights (flags, file arrays, errors)", () => {
  const { flags } = parseCommand(
    ["--matryoshka", "256,128,64", "--dims-weights", "1,0.5,0.25"],
    TRAIN_COMMAND,
  );
  const cfg = resolveConfig({}, configFromFlags(flags));
  assertEquals(cfg.matryoshka, [256, 128, 64]);
  assertEquals(cfg.dimsWeights, [1, 0.5, 0.25]);
  assertEquals(matryoshkaDims(cfg), { dims: [256, 128, 64], weights: [1, 0.5, 0.25] });
  assertEquals(matryoshkaDims(resolveConfig()), { dims: [256], weights: [1] });
  // Sorted largest first, weights follow their dims.
  assertEquals(
    matryoshkaDims(resolveConfig({}, { matryoshka: [64, 256], dimsWeights: [2, 1] })),
    { dims: [256, 64], weights: [1, 2] },
  );
  assertEquals(validateConfigObject({ matryoshka: [256, 64] }, "c.json").matryoshka, [256, 64]);
  assertEquals(validateConfigObject({ "dims-weights": "1,2" }, "c.json").dimsWeights, [1, 2]);
  assertThrows(
    () => validateConfigObject({ matryoshka: [256, "x"] }, "c.json"),
    ConfigError,
    'c.json: "matryoshka" must hold positive integers, got "x"',
  );
  assertThrows(
    () => resolveConfig({}, { matryoshka: [512] }),
    ConfigError,
    "larger than --out-dim 256",
  );
  assertThrows(() => resolveConfig({}, { matryoshka: [64, 64] }), ConfigError, "repeat");
  assertThrows(
    () => resolveConfig({}, { matryoshka: [256, 64], dimsWeights: [1] }),
    ConfigError,
    "--dims-weights has 1 values for 2 Matryoshka prefixes",
  );
  assertThrows(
    () =>
      resolveConfig(
        {},
        configFromFlags(parseCommand(["--matryoshka", "256,0"], TRAIN_COMMAND).flags),
      ),
    ConfigError,
    "--matryoshka must hold positive integers",
  );
});
