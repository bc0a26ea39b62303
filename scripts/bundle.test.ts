import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";
import { unzipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARTIFACTS, type BundleManifest, FUNCTION_NAMES } from "../functions/contract.js";
import { functionEnvironment } from "../functions/fixtures/events.js";
import {
  type BundleResult,
  BundleTooLargeError,
  bundleFunctions,
  functionBuildOptions,
  MAX_BUNDLE_BYTES,
  REPOSITORY_ROOT,
  reproducibleZip,
} from "./bundle.js";

const run = promisify(execFile);
const temp: string[] = [];
let first: BundleResult;
let second: BundleResult;

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "bundle-test-"));
  temp.push(dir);
  return dir;
}

beforeAll(async () => {
  first = await bundleFunctions(await tempDir());
  second = await bundleFunctions(await tempDir());
}, 120_000);
afterAll(async () => {
  await Promise.all(temp.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe("bundleFunctions", () => {
  it("gives identical zip sha256s on two runs into different folders", () => {
    expect(first.manifest).toEqual(second.manifest);
    for (const fn of FUNCTION_NAMES) {
      expect(first.manifest.functions[fn].sha256).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it("writes the manifest with each zip's path (relative to it), sha256 and size", async () => {
    const manifest = JSON.parse(
      await readFile(join(first.outDir, ARTIFACTS.manifestFile), "utf8"),
    ) as BundleManifest;

    expect(Object.keys(manifest.functions).sort()).toEqual([...FUNCTION_NAMES].sort());
    for (const fn of FUNCTION_NAMES) {
      const entry = manifest.functions[fn];
      const zip = await readFile(join(first.outDir, entry.zip));
      expect(entry.zip).toBe(`${fn}${ARTIFACTS.zipExtension}`);
      expect(entry.bytes).toBe(zip.byteLength);
    }
  });

  it("sets the budget at 500 KB read as 500,000 bytes", () => {
    expect(MAX_BUNDLE_BYTES).toBe(500_000);
  });

  it("bundles only the name and version of the SDK clients' package.json", async () => {
    const source = await readFile(
      first.functions.find((built) => built.fn === "subscriber")?.bundle ?? "",
      "utf8",
    );
    // The credential chain's STS and SSO clients (loaded only when the chain reaches them).
    const { version } = JSON.parse(
      await readFile(
        join(REPOSITORY_ROOT, "node_modules/@aws-sdk/nested-clients/package.json"),
        "utf8",
      ),
    ) as { version: string };
    // The version the user agent names is there; the rest of the manifest is not.
    expect(source).toContain(`name:"@aws-sdk/nested-clients",version:"${version}"`);
    expect(source).not.toContain("devDependencies");
  });

  it(`keeps every bundle within ${MAX_BUNDLE_BYTES} bytes`, () => {
    for (const built of first.functions)
      expect(built.bundleBytes).toBeLessThanOrEqual(MAX_BUNDLE_BYTES);
  });

  it("carries no client of the services the functions sign their own requests to", async () => {
    // fast-poster.ts, lambda-invoker.ts, topic-publisher.ts and object-store.ts exist to keep
    // these out (their size): no function bundles an AWS service client.
    const client = /name:"@aws-sdk\/client-[a-z0-9-]+"/;
    for (const built of first.functions) {
      expect(await readFile(built.bundle, "utf8"), built.fn).not.toMatch(client);
    }
    // Positive control: a handler that imports a client, bundled the same way, shows it so.
    const probe = await build({
      ...functionBuildOptions("connect", REPOSITORY_ROOT),
      entryPoints: undefined,
      stdin: {
        contents: `import { S3Client } from "@aws-sdk/client-s3"; export const s3 = new S3Client({});`,
        resolveDir: REPOSITORY_ROOT,
        loader: "ts",
      },
      write: false,
    });
    expect(probe.outputFiles[0]?.text).toMatch(client);
  });

  it("zips exactly the bundle as index.mjs, readable by everyone", async () => {
    for (const built of first.functions) {
      const files = unzipSync(new Uint8Array(await readFile(built.zip)));
      const bundle = await readFile(built.bundle);
      expect(Object.keys(files)).toEqual([ARTIFACTS.bundleFile]);
      expect(Buffer.from(files[ARTIFACTS.bundleFile] ?? []).equals(bundle)).toBe(true);
    }
    const listing = await run("unzip", ["-Z", first.functions[0]?.zip ?? ""]).catch(
      () => undefined,
    );
    if (listing !== undefined) expect(listing.stdout).toMatch(/-rw-r--r--.*index\.mjs/);
  });

  it("produces ESM bundles that load in a fresh Node and export handler", async () => {
    const urls = first.functions.map((b) => pathToFileURL(b.bundle).href);
    const script = `for (const url of ${JSON.stringify(urls)}) { const m = await import(url); if (typeof m.handler !== "function") throw new Error(url + " exports no handler"); } console.log("loaded");`;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
      env: { ...process.env, ...functionEnvironment("message"), AWS_REGION: "us-east-1" },
    });
    expect(stdout.trim()).toBe("loaded");
  });

  it("fails, naming the function, when a bundle is over budget", async () => {
    const root = await tempDir();
    await mkdir(join(root, "functions", "handlers"), { recursive: true });
    for (const fn of FUNCTION_NAMES) {
      const padding = fn === "message" ? "x".repeat(MAX_BUNDLE_BYTES) : "";
      await writeFile(
        join(root, "functions", "handlers", `${fn}.ts`),
        `export const handler = async () => ${JSON.stringify(padding)};\n`,
      );
    }

    const attempt = bundleFunctions(join(root, "dist"), { rootDir: root });

    await expect(attempt).rejects.toThrow(BundleTooLargeError);
    await expect(attempt).rejects.toThrow(
      new RegExp(`message bundle is \\d+ bytes, over the ${MAX_BUNDLE_BYTES}-byte budget`),
    );
  });
});

describe("reproducibleZip", () => {
  it("gives the same bytes in every time zone", () => {
    const files = { "index.mjs": new TextEncoder().encode("export const handler = 1;") };
    const original = process.env.TZ;
    try {
      process.env.TZ = "UTC";
      const utc = Buffer.from(reproducibleZip(files));
      process.env.TZ = "Pacific/Kiritimati";
      expect(Buffer.from(reproducibleZip(files))).toEqual(utc);
    } finally {
      if (original === undefined) delete process.env.TZ;
      else process.env.TZ = original;
    }
  });

  it("gives the same bytes whatever order the entries come in", () => {
    const a = new TextEncoder().encode("a");
    const b = new TextEncoder().encode("b");
    expect(Buffer.from(reproducibleZip({ "a.txt": a, "b.txt": b }))).toEqual(
      Buffer.from(reproducibleZip({ "b.txt": b, "a.txt": a })),
    );
  });
});
