import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { planReportCommand } from "./plan-report.js";
import { NOT_PLANNED } from "./plan-sections.js";

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "plan-report-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function report(args: string[], env: NodeJS.ProcessEnv = {}) {
  let out = "";
  const code = await planReportCommand(args, env, (text) => {
    out += text;
  });
  return { code, out };
}

describe("npm run plan-report", () => {
  it("prints every stage found, in stage order, from per-stage artifact folders, and appends it to the summary", async () => {
    for (const stage of ["prod", "dev"] as const) {
      await mkdir(join(dir, `plan-${stage}`));
      await writeFile(
        join(dir, `plan-${stage}`, `${stage}.tfplan.json`),
        JSON.stringify({
          stage,
          planFile: `plans/${stage}.tfplan`,
          hasChanges: false,
          changes: [],
          counts: { create: 0, update: 0, replace: 0, delete: 0 },
          unchanged: 4,
        }),
      );
      await writeFile(join(dir, `plan-${stage}`, `${stage}.tfplan.txt`), "No changes.");
    }
    const summaryFile = join(dir, "summary.md");
    await writeFile(summaryFile, "earlier step\n");
    const result = await report(
      ["--plans-dir", dir, "--skipped", "staging=no plan role in AWS_PLAN_ROLES"],
      { GITHUB_STEP_SUMMARY: summaryFile },
    );
    expect(result.code).toBe(0);
    const headings = result.out.split("\n").filter((line) => line.startsWith("### "));
    expect(headings).toEqual([
      "### `dev`: no changes",
      "### `staging`: skipped",
      "### `prod`: no changes",
    ]);
    expect(await readFile(summaryFile, "utf8")).toBe(`earlier step\n${result.out}`);
  });

  it("reports a fork's pull request where every stage was skipped", async () => {
    const result = await report([
      "--plans-dir",
      join(dir, "missing"),
      "--skipped",
      "dev=pull requests from forks get no AWS credentials",
    ]);
    expect(result.out).toContain("Not planned: pull requests from forks get no AWS credentials");
  });

  it("says every stage was not planned when no plan exists (a fork's pull request), and refuses a malformed --skipped", async () => {
    const { code, out } = await report(["--plans-dir", dir]);
    expect(code).toBe(0);
    for (const stage of ["dev", "staging", "prod"]) expect(out).toContain(stage);
    expect(out.split(NOT_PLANNED).length - 1).toBe(3);
    await expect(report(["--plans-dir", dir, "--skipped", "qa=x"])).rejects.toMatchObject({
      exitCode: 2,
    });
    await writeFile(join(dir, "dev.tfplan.json"), JSON.stringify({ stage: "dev" }));
    await expect(report(["--plans-dir", dir])).rejects.toThrow(/is not a plan summary/);
  });
});
