import { describe, expect, it } from "vitest";
import { checkReusableCalls } from "./calls.js";
import { parseWorkflow } from "./workflow.js";

const reusable = parseWorkflow(
  ".github/workflows/deploy.yml",
  `on:
  workflow_call:
    inputs:
      stage: { type: string, required: true }
      run-id: { type: string, required: true }
      verbose: { type: boolean, required: false }
    secrets:
      token: { required: true }
jobs:
  deploy:
    runs-on: ubuntu-24.04
    steps:
      - run: echo "$STAGE"
`,
);

function caller(jobBody: string) {
  return parseWorkflow(
    ".github/workflows/main.yml",
    `on: push
jobs:
  build:
    runs-on: ubuntu-24.04
    steps:
      - run: echo build
  deploy-dev:
${jobBody}`,
  );
}

describe("checkReusableCalls", () => {
  it("accepts a call passing every required input and secret", () => {
    const main = caller(`    uses: ./.github/workflows/deploy.yml
    with: { stage: dev, run-id: "1" }
    secrets: { token: x }
`);
    expect(checkReusableCalls([main, reusable])).toEqual([]);
  });

  it("reports a missing required input at the calling job's line", () => {
    const main = caller(`    uses: ./.github/workflows/deploy.yml
    with: { stage: dev }
    secrets: inherit
`);
    expect(checkReusableCalls([main, reusable])).toEqual([
      {
        file: ".github/workflows/main.yml",
        line: 7,
        rule: "reusable-call",
        message: expect.stringContaining('without its required input "run-id"'),
      },
    ]);
  });

  it("reports an input the called workflow does not declare, listing the ones it does", () => {
    const main = caller(`    uses: ./.github/workflows/deploy.yml
    with: { stage: dev, run-id: "1", stgae: prod }
    secrets: inherit
`);
    const [finding, ...rest] = checkReusableCalls([main, reusable]);
    expect(rest).toEqual([]);
    expect(finding?.message).toContain('passes input "stgae"');
    expect(finding?.message).toContain("it takes: stage, run-id, verbose");
  });

  it("reports a missing required secret unless secrets are inherited", () => {
    const main = caller(`    uses: ./.github/workflows/deploy.yml
    with: { stage: dev, run-id: "1" }
`);
    expect(checkReusableCalls([main, reusable]).map((f) => f.message)).toEqual([
      expect.stringContaining('without its required secret "token"'),
    ]);
  });

  it("reports a call of a workflow that does not exist or is not reusable", () => {
    const missing = caller(`    uses: ./.github/workflows/nowhere.yml
`);
    const notReusable = parseWorkflow(".github/workflows/nowhere.yml", "on: push\njobs: {}\n");
    expect(checkReusableCalls([missing])[0]?.message).toContain("does not exist");
    expect(checkReusableCalls([missing, notReusable])[0]?.message).toContain(
      "has no on.workflow_call trigger",
    );
  });
});
