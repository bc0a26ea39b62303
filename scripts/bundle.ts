import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type BuildOptions, build, type Plugin } from "esbuild";
import { type Zippable, zipSync } from "fflate";
import {
  ARTIFACTS,
  type BundleManifest,
  FUNCTION_NAMES,
  type FunctionName,
} from "../functions/contract.js";
import { ExpectedError } from "../smoke/errors.js";
import { parseCommandLine, runIfMain } from "./cli.js";

/** Lambda unzips and loads this on every cold start: keep it small (500 KB, read as 500,000 bytes). */
export const MAX_BUNDLE_BYTES = 500_000;

/**
 * The SDK's clients import their own package.json for one field: the version their user agent
 * names (`packageInfo.version` in each runtimeConfig). Bundled whole, each manifest brings its
 * scripts, dependencies and devDependencies along, about 8 KB per bundle; only name and version
 * are kept.
 */
export const sdkManifestVersionOnly: Plugin = {
  name: "sdk-manifest-version-only",
  setup(builder) {
    builder.onLoad(
      { filter: /[\\/]node_modules[\\/]@aws-sdk[\\/][^\\/]+[\\/]package\.json$/ },
      async (args) => {
        const { name, version } = JSON.parse(await readFile(args.path, "utf8")) as {
          name?: unknown;
          version?: unknown;
        };
        return { contents: JSON.stringify({ name, version }), loader: "json" };
      },
    );
  },
};

/**
 * Zip entries carry a DOS timestamp in *local* time (fflate reads the Date's local fields): a
 * Date built from local fields when zipping gives the same bytes in every time zone.
 */
function zipMtime(): Date {
  return new Date(2000, 0, 1, 0, 0, 0);
}
/** Unix, regular file, rw-r--r--: Lambda must be able to read it. */
const ZIP_FILE_ATTRIBUTES = { os: 3, attrs: 0o100644 << 16 } as const;

export const REPOSITORY_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export interface BuiltFunction {
  readonly fn: FunctionName;
  /** Path of dist/<fn>/index.mjs. */
  readonly bundle: string;
  readonly bundleBytes: number;
  /** Path of dist/<fn>.zip. */
  readonly zip: string;
  readonly zipBytes: number;
  readonly sha256: string;
}

export interface BundleResult {
  readonly outDir: string;
  readonly manifest: BundleManifest;
  readonly functions: readonly BuiltFunction[];
}

export class BundleTooLargeError extends ExpectedError {
  override readonly name = "BundleTooLargeError";
}

/** Sorted entry names and fixed metadata: the same files always give the same zip bytes. */
export function reproducibleZip(files: Readonly<Record<string, Uint8Array>>): Uint8Array {
  const zippable: Zippable = {};
  for (const name of Object.keys(files).sort()) {
    zippable[name] = [
      files[name] as Uint8Array,
      { mtime: zipMtime(), level: 9, ...ZIP_FILE_ATTRIBUTES },
    ];
  }
  return zipSync(zippable);
}

/**
 * How a function's handler becomes its bundle: one minified ESM file for Node (the bench builds
 * its poster variants with the very same options).
 */
export function functionBuildOptions(fn: FunctionName, rootDir: string): BuildOptions {
  return {
    absWorkingDir: rootDir,
    entryPoints: [join(rootDir, "functions", "handlers", `${fn}.ts`)],
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    // The SDK's ESM builds: smaller, faster to load, and no CommonJS `require` needing a banner.
    mainFields: ["module", "main"],
    minify: true,
    legalComments: "none",
    logLevel: "silent",
    plugins: [sdkManifestVersionOnly],
  };
}

async function bundleOne(
  fn: FunctionName,
  outDir: string,
  rootDir: string,
): Promise<BuiltFunction> {
  const bundle = join(outDir, fn, ARTIFACTS.bundleFile);
  const result = await build({
    ...functionBuildOptions(fn, rootDir),
    outfile: bundle,
    write: false,
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error(`esbuild produced no output for ${fn}`);
  if (output.contents.byteLength > MAX_BUNDLE_BYTES) {
    throw new BundleTooLargeError(
      `The ${fn} bundle is ${output.contents.byteLength} bytes, over the ${MAX_BUNDLE_BYTES}-byte budget. Check what functions/handlers/${fn}.ts imports (esbuild --metafile shows it).`,
    );
  }
  const zipBytes = reproducibleZip({ [ARTIFACTS.bundleFile]: output.contents });
  const zip = join(outDir, `${fn}${ARTIFACTS.zipExtension}`);
  await mkdir(dirname(bundle), { recursive: true });
  await writeFile(bundle, output.contents);
  await writeFile(zip, zipBytes);
  return {
    fn,
    bundle,
    bundleBytes: output.contents.byteLength,
    zip,
    zipBytes: zipBytes.byteLength,
    sha256: createHash("sha256").update(zipBytes).digest("hex"),
  };
}

/**
 * Builds every function into outDir: <fn>/index.mjs, <fn>.zip and manifest.json, whose zip paths
 * are relative to the manifest's folder.
 */
export async function bundleFunctions(
  outDir: string,
  options: { rootDir?: string; onBuilt?: (built: BuiltFunction) => void } = {},
): Promise<BundleResult> {
  const rootDir = options.rootDir ?? REPOSITORY_ROOT;
  await mkdir(outDir, { recursive: true });
  const built: BuiltFunction[] = [];
  for (const fn of FUNCTION_NAMES) {
    await rm(join(outDir, fn), { recursive: true, force: true });
    const one = await bundleOne(fn, outDir, rootDir);
    options.onBuilt?.(one);
    built.push(one);
  }
  const manifest: BundleManifest = {
    functions: Object.fromEntries(
      built.map((b) => [
        b.fn,
        { zip: relative(outDir, b.zip), sha256: b.sha256, bytes: b.zipBytes },
      ]),
    ) as BundleManifest["functions"],
  };
  await writeFile(join(outDir, ARTIFACTS.manifestFile), `${JSON.stringify(manifest, null, 2)}\n`);
  return { outDir, manifest, functions: built };
}

function table(result: BundleResult): string {
  const rows = [
    ["function", "bundle bytes", "zip bytes", "zip sha256"],
    ...result.functions.map((b) => [b.fn, String(b.bundleBytes), String(b.zipBytes), b.sha256]),
  ];
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

const usage = `
Usage: npm run bundle [-- --json] [--out-dir DIR]

Builds each Lambda function (${FUNCTION_NAMES.join(", ")}) with esbuild into one minified ESM file,
${ARTIFACTS.dir}/<function>/${ARTIFACTS.bundleFile}, a reproducible ${ARTIFACTS.dir}/<function>${ARTIFACTS.zipExtension}
(the same source gives the same sha256) and ${ARTIFACTS.dir}/${ARTIFACTS.manifestFile}. Fails when a
bundle exceeds ${MAX_BUNDLE_BYTES} bytes.

  --json          print the result as JSON instead of a table
  --out-dir DIR   build somewhere other than ${ARTIFACTS.dir}/

Example: npm run bundle -- --json
`;

runIfMain(import.meta.url, async (argv) => {
  const args = parseCommandLine(argv, {
    usage,
    options: { json: { type: "boolean" }, "out-dir": { type: "string" } },
  });
  if (args === undefined) return 0;
  const outDir = resolve(args.values["out-dir"] ?? join(REPOSITORY_ROOT, ARTIFACTS.dir));
  const result = await bundleFunctions(outDir, {
    onBuilt: (b) => process.stderr.write(`bundled ${b.fn} (${b.bundleBytes} bytes)\n`),
  });
  if (args.values.json === true) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    process.stdout.write(`${table(result)}\nmanifest: ${join(outDir, ARTIFACTS.manifestFile)}\n`);
  }
  return 0;
});
