import { describe, expect, it } from "vitest";
import { checkNpmScripts, npmScriptsUsed } from "./npm-scripts.js";
import { parseWorkflow } from "./workflow.js";

describe("npmScriptsUsed", () => {
  it("finds npm run names after npm's own flags, and npm test", () => {
    const script = [
      "npm ci",
      'npm run plan -- "$STAGE" | tee plan.txt',
      "npm run --silent smoke -- --stage dev --json >smoke.json",
      "npm test",
      "npm run-script lint:workflows",
    ].join("\n");
    expect(npmScriptsUsed(script)).toEqual([
      { name: "plan", lineIndex: 1 },
      { name: "smoke", lineIndex: 2 },
      { name: "test", lineIndex: 3 },
      { name: "lint:workflows", lineIndex: 4 },
    ]);
  });

  it("ignores comments and scripts npm may skip (--if-present)", () => {
    expect(npmScriptsUsed("# npm run old\nnpm run --if-present optional")).toEqual([]);
  });
});

describe("checkNpmScripts", () => {
  const workflow = parseWorkflow(
    ".github/workflows/ci.yml",
    `on: push
jobs:
  build:
    runs-on: ubuntu-24.04
    steps:
      - run: npm run bundle
      - run: |
          npm test
          npm run synht
`,
  );

  it("reports a script package.json lacks, at its line in the workflow", () => {
    expect(checkNpmScripts([workflow], { test: "vitest", bundle: "tsx b.ts" })).toEqual([
      {
        file: ".github/workflows/ci.yml",
        line: 9,
        rule: "npm-script",
        message: expect.stringContaining('npm script "synht"'),
      },
    ]);
  });

  it("accepts a workflow whose scripts all exist", () => {
    const scripts = { test: "vitest", bundle: "tsx b.ts", synht: "tsx s.ts" };
    expect(checkNpmScripts([workflow], scripts)).toEqual([]);
  });
});
