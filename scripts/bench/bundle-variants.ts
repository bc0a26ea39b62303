import { copyFile, mkdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";
import {
  ARTIFACTS,
  FUNCTION_NAMES,
  type FunctionName,
  functionForRoute,
  ROUTE_KEYS,
} from "../../functions/contract.js";
import { functionBuildOptions } from "../bundle.js";
import { bundlePath } from "../local/lambda/invoker.js";

/**
 * The bench's bundles of one function, identical to `npm run bundle`'s but for the poster: the
 * bench swaps `functions/lib/fast-poster.ts` for another module exporting `createFastPoster` at
 * build time (an esbuild resolve hook). The handlers carry no bench switch and read no extra
 * variable; the deployed bundle is the "fast" variant, built from the same sources unchanged.
 */

export const POSTER_VARIANTS = ["fast", "sdk", "sequential"] as const;
export type PosterVariant = (typeof POSTER_VARIANTS)[number];

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const REPLACEMENTS: Record<Exclude<PosterVariant, "fast">, string> = {
  sdk: join(ROOT, "scripts/bench/variants/sdk-poster.ts"),
  sequential: join(ROOT, "scripts/bench/variants/sequential-poster.ts"),
};

function swapPoster(replacement: string): Plugin {
  return {
    name: "bench-poster",
    setup(builder) {
      builder.onResolve({ filter: /\/fast-poster\.js$/ }, (args) =>
        args.importer.includes(`${join("functions", "handlers")}`)
          ? { path: replacement }
          : undefined,
      );
    },
  };
}

export interface VariantBundle {
  readonly variant: PosterVariant;
  readonly file: string;
  readonly bytes: number;
}

/** Builds `fn` once per poster variant into outDir/<variant>/<fn>/index.mjs. */
export async function buildVariants(fn: FunctionName, outDir: string): Promise<VariantBundle[]> {
  const built: VariantBundle[] = [];
  for (const variant of POSTER_VARIANTS) {
    const file = join(outDir, variant, fn, ARTIFACTS.bundleFile);
    await build({
      ...functionBuildOptions(fn, ROOT),
      outfile: file,
      plugins: variant === "fast" ? [] : [swapPoster(REPLACEMENTS[variant])],
    });
    built.push({ variant, file, bytes: (await stat(file)).size });
  }
  return built;
}

/**
 * A copy of distDir's bundles whose `$connect` function is a no-op handler
 * (variants/no-op-connect.ts), for a stage whose connect rate is bounded by everything but the
 * function: built into outDir, which a local stage takes as its distDir.
 */
export async function buildNoOpConnect(distDir: string, outDir: string): Promise<string> {
  const connect = functionForRoute(ROUTE_KEYS.connect);
  for (const fn of FUNCTION_NAMES) {
    const file = bundlePath(outDir, fn);
    await mkdir(dirname(file), { recursive: true });
    if (fn === connect) {
      await build({
        ...functionBuildOptions(fn, ROOT),
        entryPoints: [join(ROOT, "scripts/bench/variants/no-op-connect.ts")],
        outfile: file,
      });
    } else {
      await copyFile(bundlePath(distDir, fn), file);
    }
  }
  return outDir;
}
