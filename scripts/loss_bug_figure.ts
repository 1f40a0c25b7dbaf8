/**
 * `deno task loss-bug-figure [--out docs/loss_bug.png]`: render the figure of
 * notebook 02 (b), one hard negative's share of the loss against its
 * similarity under the "exp" (correct) and "logit" (buggy) weightings, to a
 * PNG for the README: an offline HTML page (plotly.js inlined from
 * `node_modules`) screenshotted by headless Chromium.
 *
 * The figure builder and the similarity measurements live in
 * `lib/train/loss_bug.ts`, shared with notebook 02.
 *
 * @module
 */
import { CliError, type CommandSpec, helpText, parseCommand, runMain } from "../lib/cli/cli.ts";
import { resolveConfig } from "../lib/train/config.ts";
import { type Figure, figureToHtmlDiv, plotlyScriptTag } from "../lib/report/plots.ts";
import { runChromium } from "../lib/report/chromium.ts";
import { prepareTraining } from "../lib/train/trainer.ts";
import { fileWriteNeeds, requirePermissions } from "../lib/cli/permissions.ts";
import { hardNegativeSimilarities, lossBugFigure } from "../lib/train/loss_bug.ts";

/**
 * A standalone HTML page showing a figure, with plotly.js inlined (offline).
 *
 * @example
 * ```ts
 * import { figurePage } from "./loss_bug_figure.ts";
 * const html = figurePage({ data: [], layout: {} }, 400);
 * console.log(html.startsWith("<!doctype html>")); // true
 * ```
 */
export function figurePage(fig: Figure, height: number): string {
  return `<!doctype html>\n<html><head><meta charset="utf-8">` +
    `<style>.modebar-container{display:none}</style>${plotlyScriptTag()}</head>` +
    `<body style="margin:0;background:#fff">${figureToHtmlDiv(fig, "figure", { height })}` +
    `</body></html>\n`;
}

/** Options of {@linkcode screenshotFigure}. */
export interface ScreenshotOptions {
  /** Window width in pixels (default 1200). */
  width?: number;
  /** Window height in pixels, also the figure's height (default 600). */
  height?: number;
  /** The Chromium executable (default "chromium"). */
  chromium?: string;
  /** Folder for the temporary page and browser profile (default: the system temp folder). */
  tmpRoot?: string;
}

/**
 * Render a figure to a PNG: an offline page ({@linkcode figurePage}) opened by
 * headless Chromium with `--screenshot`. Returns the PNG's size in bytes.
 *
 * @example
 * ```ts ignore
 * import { lossBugFigure } from "../lib/train/loss_bug.ts";
 * import { screenshotFigure } from "./loss_bug_figure.ts";
 * const fig = lossBugFigure({ temperature: 0.05, positiveSimilarity: 0.6 });
 * console.log(await screenshotFigure(fig, "/tmp/loss_bug.png"));
 * ```
 */
export async function screenshotFigure(
  fig: Figure,
  out: string,
  opts: ScreenshotOptions = {},
): Promise<number> {
  const width = opts.width ?? 1200;
  const height = opts.height ?? 600;
  const chromium = opts.chromium ?? "chromium";
  const abs = (p: string) => (p.startsWith("/") ? p : `${Deno.cwd()}/${p}`);
  const tmp = abs(await Deno.makeTempDir({ dir: opts.tmpRoot, prefix: "loss_bug_figure_" }));
  try {
    const page = `${tmp}/figure.html`;
    await Deno.writeTextFile(page, figurePage(fig, height));
    const absOut = abs(out);
    await Deno.mkdir(absOut.replace(/\/[^/]*$/, "") || "/", { recursive: true });
    try {
      await runChromium(
        [`--screenshot=${absOut}`, `--window-size=${width},${height}`, `file://${page}`],
        `${tmp}/profile`,
        chromium,
      );
    } catch (err) {
      throw new CliError((err as Error).message + " (or pass --chromium PATH)");
    }
    return (await Deno.stat(absOut)).size;
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

const SPEC: CommandSpec = {
  name: "loss-bug-figure",
  usage: "deno task loss-bug-figure [--out docs/loss_bug.png] [--width 1200] [--height 600]",
  description: "Render notebook 02's loss-bug figure to a PNG with headless Chromium.",
  flags: {
    out: { type: "string", help: "PNG path", default: "docs/loss_bug.png" },
    width: { type: "int", help: "window width in pixels", default: 1200, min: 200 },
    height: { type: "int", help: "window height in pixels", default: 600, min: 200 },
    chromium: { type: "string", help: "Chromium executable", default: "chromium" },
  },
};

async function main() {
  const { flags, help } = parseCommand(Deno.args, SPEC);
  if (help) return console.log(helpText(SPEC));
  const out = (flags.out as string | undefined) ?? "docs/loss_bug.png";
  const width = (flags.width as number | undefined) ?? 1200;
  const height = (flags.height as number | undefined) ?? 600;
  if (!out.endsWith(".png")) throw new CliError(`loss-bug-figure: --out must end in .png: ${out}`);
  await requirePermissions("loss-bug-figure", [
    ...fileWriteNeeds(out, "--out"),
    { kind: "write", path: "checkpoints", flag: "temporary page" },
  ]);

  // The same measurements as notebook 02: base-encoder similarities on the training split.
  const config = resolveConfig({}, {});
  const data = await prepareTraining(config);
  const stats = hardNegativeSimilarities(data.train, data.embeddings, data.encoder.dim, data.rowOf);
  const fig = lossBugFigure({
    temperature: config.temperature,
    positiveSimilarity: stats.medianPositive,
    markSimilarity: stats.medianNegative,
  });
  // The temporary page lives under checkpoints/ (git-ignored), inside the task's permissions.
  await Deno.mkdir("checkpoints", { recursive: true });
  const size = await screenshotFigure(fig, out, {
    width,
    height,
    chromium: flags.chromium as string | undefined,
    tmpRoot: "checkpoints",
  });
  console.log(`wrote ${out} (${size} bytes, ${width}x${height})`);
}

if (import.meta.main) await runMain(main);
