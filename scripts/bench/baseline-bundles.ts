import { spawn } from "node:child_process";
import { access, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { build } from "esbuild";
import { ARTIFACTS, FUNCTION_NAMES, type FunctionName } from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { functionBuildOptions } from "../bundle.js";

/**
 * The functions as they were at an earlier commit, bundled with today's esbuild options, so the
 * cold-start section can put each bundle's import time next to its earlier self in the same run
 * (the "no slower than today's": a time measured on another day on this noisy machine
 * says nothing). Only functions/ is taken from the commit; packages resolve from this checkout's
 * node_modules, so the comparison is the code, not the dependency versions.
 */

export interface BaselineBundles {
  /** The commit the ref named (full SHA). */
  readonly commit: string;
  /** Bundles of the functions that existed at that commit. */
  readonly files: ReadonlyMap<FunctionName, string>;
}

function git(
  root: string,
  args: readonly string[],
  stdout: "pipe" | NodeJS.WritableStream = "pipe",
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    if (stdout === "pipe") child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    else child.stdout.pipe(stdout);
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    child.once("error", reject);
    child.once("close", (code) =>
      code === 0 ? resolve(out.trim()) : reject(new Error(err.trim() || `git exited ${code}`)),
    );
  });
}

/** Extracts `functions/` of `commit` under dir (git archive | tar). */
function extractFunctions(root: string, commit: string, dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const tar = spawn("tar", ["-x", "-C", dir], { stdio: ["pipe", "ignore", "pipe"] });
    let err = "";
    tar.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    tar.once("error", reject);
    tar.once("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`tar failed (${code}): ${err.trim()}`)),
    );
    git(root, ["archive", "--format=tar", commit, "functions"], tar.stdin).catch(reject);
  });
}

export async function buildBaselineBundles(
  root: string,
  ref: string,
  outDir: string,
): Promise<BaselineBundles> {
  let commit: string;
  try {
    commit = await git(root, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
  } catch {
    throw new ExpectedError(
      `--baseline ${ref} names no commit in this clone: give a commit, tag or branch from \`git log\`.`,
    );
  }
  const sourceDir = join(outDir, "source");
  await mkdir(sourceDir, { recursive: true });
  await extractFunctions(root, commit, sourceDir);
  const files = new Map<FunctionName, string>();
  for (const fn of FUNCTION_NAMES) {
    const entry = join(sourceDir, "functions", "handlers", `${fn}.ts`);
    if (
      !(await access(entry).then(
        () => true,
        () => false,
      ))
    ) {
      continue; // A function added since that commit has nothing to compare with.
    }
    const file = join(outDir, "dist", fn, ARTIFACTS.bundleFile);
    await build({
      ...functionBuildOptions(fn, sourceDir),
      outfile: file,
      nodePaths: [join(root, "node_modules")],
    });
    files.set(fn, file);
  }
  return { commit, files };
}
