/**
 * The library from the user's own script, as the README shows it: a script in
 * a folder outside the repo imports `lib/mod.ts` with the project's
 * `deno.json` as its config, and encodes text with a trained head. Importing
 * the API must not load LanceDB (no NAPI_RS_* environment access) and the
 * default model must be found from the project root, not the working folder.
 *
 * @module
 */
import { assertEquals, assertStringIncludes } from "./assert.ts";
import { PROJECT_ROOT } from "../lib/core/fs.ts";
import { smallDataset, trainSmallRun } from "./fixtures.ts";

Deno.test("the README's library example runs from a folder outside the repo", async () => {
  const fx = await smallDataset(40, 3);
  const run = await trainSmallRun(fx, 1);
  const userDir = await Deno.makeTempDir({ prefix: "phongtro-user-script-" });
  try {
    await Deno.writeTextFile(
      `${userDir}/try.ts`,
      `import { loadProjectionModel } from "${PROJECT_ROOT}/lib/mod.ts";\n` +
        `const model = await loadProjectionModel(${JSON.stringify(run)});\n` +
        `const { dim, data } = await model.encode(["phòng trọ q10 giá rẻ có máy lạnh"]);\n` +
        "console.log(`dim ${dim}, ${data.length} values`);\n",
    );
    const out = await new Deno.Command("deno", {
      args: [
        "run",
        `--config=${PROJECT_ROOT}/deno.json`,
        `--allow-read=${PROJECT_ROOT},${fx.dir}`,
        "--allow-ffi",
        "--allow-env=ORT_LOG_LEVEL",
        "--allow-sys",
        "try.ts",
      ],
      cwd: userDir,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, text);
    assertStringIncludes(text, "dim 256, 256 values");
  } finally {
    await Deno.remove(userDir, { recursive: true });
    await Deno.remove(fx.dir, { recursive: true });
  }
});
