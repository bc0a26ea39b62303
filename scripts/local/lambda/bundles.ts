import { spawn } from "node:child_process";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { FUNCTION_NAMES } from "../../../functions/contract.js";
import { ExpectedError } from "../../../smoke/errors.js";
import { bundlePath } from "./invoker.js";

/**
 * Whether the bundles the local stage runs exist and are newer than the functions' sources —
 * `npm start` rebuilds them otherwise, so an edited handler is never silently ignored.
 */

async function newestSource(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, await newestSource(path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) {
      newest = Math.max(newest, (await stat(path)).mtimeMs);
    }
  }
  return newest;
}

/** Why the bundles need building, or undefined when they are current. */
export async function bundlesOutdated(root: string, distDir: string): Promise<string | undefined> {
  let oldestBundle = Number.POSITIVE_INFINITY;
  for (const fn of FUNCTION_NAMES) {
    const bundle = await stat(bundlePath(distDir, fn)).catch(() => undefined);
    if (bundle === undefined) return `${bundlePath(distDir, fn)} does not exist`;
    oldestBundle = Math.min(oldestBundle, bundle.mtimeMs);
  }
  if ((await newestSource(join(root, "functions"))) > oldestBundle) {
    return "functions/ changed since the last bundle";
  }
  return undefined;
}

/** Runs `npm run bundle` in root, its output going to stderr. */
export async function buildBundles(root: string): Promise<void> {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const child = spawn(npm, ["run", "--silent", "bundle"], {
    cwd: root,
    stdio: ["ignore", process.stderr, process.stderr],
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", resolve);
  });
  if (code !== 0) {
    throw new ExpectedError(
      `\`npm run bundle\` failed (exit ${code}): fix the errors above and run \`npm start\` again.`,
    );
  }
}
