import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFakeBundle } from "../../stacks/synthesized-fixture.js";

/** The GitHub commands as the workflows run them (npm scripts through tsx): help, exit codes. */

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const tsx = join(root, "node_modules", ".bin", "tsx");
const COMMANDS = ["plan-report", "plan-comment", "verify-build", "build-record", "promotion"];

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn(tsx, [join(root, "scripts", "github", `${command}.ts`), ...args], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "github-commands-"));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("the GitHub commands", () => {
  it.each(COMMANDS)("%s --help prints its usage and exits 0", async (command) => {
    const result = await run(command, ["--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^Usage: npm run ${command} -- `));
  });

  it("exits 2 on a usage error and 1 on a missing token, without a stack trace", async () => {
    const usage = await run("promotion", ["deploy"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(
      /^Say check \(before the approval\) or record \(after the deploy\), not "deploy"\./,
    );
    const noToken = await run("promotion", ["check", "--stage", "prod", "--run-id", "1"]);
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toMatch(/^GITHUB_TOKEN is not set\./);
    expect(noToken.stderr).not.toMatch(/at .+\.ts:\d+/);
  });

  it("verify-build exits 0 on an intact build and 1 naming a missing manifest", async () => {
    writeFakeBundle(join(scratch, "dist"));
    const ok = await run("verify-build", ["--dir", scratch, "--zips-only"]);
    expect(ok.code).toBe(0);
    rmSync(join(scratch, "dist", "manifest.json"));
    const missing = await run("verify-build", ["--dir", scratch, "--zips-only"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/dist\/manifest\.json is missing/);
  });
});
