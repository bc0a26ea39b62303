import { readdir, readFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { ARTIFACTS, type BundleManifest, FUNCTION_NAMES } from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { runIfMain, UsageError } from "../cli.js";
import {
  BUILD_JOB_NAME,
  buildFiles,
  manifestPath,
  readBuildRecord,
  runIdOption,
  sha256Hex,
} from "./build-record.js";
import { githubClient } from "./client.js";
import { stepCommand } from "./step-command.js";
import { appendStepSummary } from "./step-files.js";

/**
 * A downloaded build checked before anything is planned from it: every zip in dist/ against
 * dist/manifest.json, and the manifest itself against the digest the build recorded.
 */

export interface FileCheck {
  readonly file: string;
  readonly expected: string | null;
  readonly actual: string | null;
}

export interface BuildVerification {
  readonly ok: boolean;
  readonly manifestSha256: string;
  readonly expectedManifestSha256: string | null;
  readonly files: readonly FileCheck[];
  /** One line per mismatch: the file, the expected and the actual digest. */
  readonly problems: readonly string[];
}

async function digestOf(path: string): Promise<string | null> {
  try {
    return sha256Hex(await readFile(path));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

function parseManifest(text: string, path: string): BundleManifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ExpectedError(`${path} is not JSON (${(error as Error).message}).`);
  }
  const functions = (parsed as { functions?: unknown }).functions;
  if (typeof functions !== "object" || functions === null) {
    throw new ExpectedError(`${path} has no "functions": not a manifest \`npm run bundle\` wrote.`);
  }
  return parsed as BundleManifest;
}

/** What the build recorded of itself: the manifest's digest and, since it lists them, every file's. */
export interface ExpectedBuild {
  readonly manifestSha256: string;
  readonly files?: ReadonlyMap<string, string>;
}

export async function verifyBuild(
  dir: string,
  expected: ExpectedBuild | null,
): Promise<BuildVerification> {
  const expectedManifestSha256 = expected?.manifestSha256 ?? null;
  const distDir = join(dir, ARTIFACTS.dir);
  const path = manifestPath(dir);
  const shown = (file: string) => relative(dir, file) || file;
  let manifestBytes: Buffer;
  try {
    manifestBytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new ExpectedError(
        `${path} is missing: the downloaded build has no manifest. Check that the artifact holds dist/.`,
      );
    }
    throw error;
  }
  const manifestSha256 = sha256Hex(manifestBytes);
  const problems: string[] = [];
  if (expectedManifestSha256 !== null && manifestSha256 !== expectedManifestSha256) {
    problems.push(
      `${shown(path)}: expected sha256 ${expectedManifestSha256} (recorded by the build), got ${manifestSha256}`,
    );
  }
  const manifest = parseManifest(manifestBytes.toString("utf8"), shown(path));
  const files: FileCheck[] = [];
  const listed = new Set<string>();
  for (const fn of FUNCTION_NAMES) {
    const entry = manifest.functions[fn];
    if (entry === undefined) {
      problems.push(`${shown(path)}: lists no zip for the function ${fn}`);
      continue;
    }
    const file = join(distDir, entry.zip);
    listed.add(resolve(file));
    const actual = await digestOf(file);
    files.push({ file: shown(file), expected: entry.sha256, actual });
    if (actual !== entry.sha256) {
      problems.push(
        `${shown(file)}: expected sha256 ${entry.sha256} (${shown(path)}), got ${actual ?? "no such file"}`,
      );
    }
  }
  for (const name of Object.keys(manifest.functions)) {
    if (!(FUNCTION_NAMES as readonly string[]).includes(name)) {
      problems.push(`${shown(path)}: lists ${name}, which is not a function of this project`);
    }
  }
  // A zip the manifest does not name would still be shipped by anything that globs dist/*.zip.
  for (const entry of await readdir(distDir, { recursive: true })) {
    const file = join(distDir, entry);
    if (!entry.endsWith(ARTIFACTS.zipExtension) || listed.has(resolve(file))) continue;
    const actual = await digestOf(file);
    files.push({ file: shown(file), expected: null, actual });
    problems.push(
      `${shown(file)}: expected no such file (not in the manifest), got sha256 ${actual}`,
    );
  }
  if (expected?.files !== undefined && expected.files.size > 0) {
    const actual = new Map((await buildFiles(dir)).map((f) => [f.path, f.sha256]));
    for (const [path, sha256] of expected.files) {
      const found = actual.get(path);
      if (found !== sha256) {
        problems.push(
          `${path}: expected sha256 ${sha256} (recorded by the build), got ${found ?? "no such file"}`,
        );
      }
    }
    for (const [path, sha256] of actual) {
      if (!expected.files.has(path)) {
        problems.push(
          `${path}: expected no such file (not in the build's record), got sha256 ${sha256}`,
        );
      }
    }
  }
  return {
    ok: problems.length === 0,
    manifestSha256,
    expectedManifestSha256,
    files,
    problems,
  };
}

const USAGE = `
Usage: npm run verify-build -- (--expect-manifest-sha256 HEX | --run-id ID [--job NAME] | --zips-only)
                               [--dir DIR] [--json]

Checks a downloaded build before anything is planned from it: the sha256 of every zip in dist/
against dist/manifest.json, and the sha256 of dist/manifest.json against the digest the build
recorded; with --run-id also every file under dist/ and cdktf.out/ against the build's record.
Exits 1 naming each file, the expected and the actual digest when anything differs.

  --expect-manifest-sha256 HEX   the manifest's digest as recorded by the build
  --run-id ID                    read that digest from the build job of Main run ID
                                 (\`npm run build-record -- read\`; needs GITHUB_TOKEN with actions: read)
  --job NAME                     the build job's name (default "${BUILD_JOB_NAME}")
  --zips-only                    check the zips against the manifest only (a local build)
  --dir DIR                      the folder holding dist/ (default .)
  --json                         print the result as JSON
`;

export const verifyBuildCommand = stepCommand(
  {
    usage: USAGE,
    options: {
      dir: { type: "string" },
      "expect-manifest-sha256": { type: "string" },
      "run-id": { type: "string" },
      job: { type: "string" },
      "zips-only": { type: "boolean" },
      json: { type: "boolean" },
    },
  },
  async (parsed, env, out) => {
    const { values } = parsed;
    const sources = [
      values["expect-manifest-sha256"] !== undefined,
      values["run-id"] !== undefined,
      values["zips-only"] === true,
    ].filter(Boolean).length;
    if (sources !== 1) {
      throw new UsageError(
        `Say what to check the manifest against: exactly one of --expect-manifest-sha256, --run-id or --zips-only.\n${USAGE}`,
      );
    }
    let expected: ExpectedBuild | null = null;
    if (values["expect-manifest-sha256"] !== undefined) {
      expected = { manifestSha256: values["expect-manifest-sha256"].toLowerCase() };
      if (!/^[0-9a-f]{64}$/.test(expected.manifestSha256)) {
        throw new UsageError(
          `--expect-manifest-sha256 takes 64 hex digits, not "${values["expect-manifest-sha256"]}".\n${USAGE}`,
        );
      }
    } else if (values["run-id"] !== undefined) {
      const runId = runIdOption(values["run-id"], USAGE);
      const record = await readBuildRecord(githubClient(env), runId, values.job);
      expected = { manifestSha256: record.digest, files: record.files };
    }
    const result = await verifyBuild(resolve(values.dir ?? "."), expected);
    if (values.json === true) {
      out(`${JSON.stringify(result)}\n`);
    } else {
      for (const file of result.files) {
        out(
          `${file.actual === file.expected ? "ok " : "BAD"} ${file.file} ${file.actual ?? "-"}\n`,
        );
      }
      out(
        `${expected === null || expected.manifestSha256 === result.manifestSha256 ? "ok " : "BAD"} ${ARTIFACTS.dir}/${ARTIFACTS.manifestFile} ${result.manifestSha256}${expected === null ? " (not checked against a record: --zips-only)" : ""}\n`,
      );
    }
    if (!result.ok) {
      await appendStepSummary(
        `> [!CAUTION]\n> The build does not match its record; nothing was planned or deployed:\n${result.problems.map((p) => `> - ${p}`).join("\n")}`,
        env,
      );
      throw new ExpectedError(
        `The build does not match its record; stop, do not deploy it:\n${result.problems.map((p) => `  ${p}`).join("\n")}`,
      );
    }
    await appendStepSummary(
      `Build verified: ${result.files.length} zips match \`${ARTIFACTS.dir}/${ARTIFACTS.manifestFile}\` (sha256 \`${result.manifestSha256}\`${expected === null ? ", not checked against a record" : ", as the build recorded"}).`,
      env,
    );
    return 0;
  },
);

runIfMain(import.meta.url, (argv) => verifyBuildCommand(argv));
