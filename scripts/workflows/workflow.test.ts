import { describe, expect, it } from "vitest";
import { parseWorkflow, triggers } from "./workflow.js";

describe("parseWorkflow", () => {
  it("places each run: script at the line its first command is on", () => {
    const workflow = parseWorkflow(
      "ci.yml",
      `on: push
jobs:
  build:
    runs-on: ubuntu-24.04
    steps:
      - run: npm ci
      - name: Many lines
        run: |
          npm test
          npm run bundle
`,
    );
    const [job] = workflow.jobs;
    expect(job?.line).toBe(3);
    expect(job?.steps.map((s) => [s.label, s.runLine])).toEqual([
      ["step 1", 6],
      ["Many lines", 9],
    ]);
  });

  it("reports a YAML syntax error with its line instead of throwing", () => {
    const workflow = parseWorkflow("ci.yml", "on: push\njobs:\n  build: [\n");
    expect(workflow.jobs).toEqual([]);
    expect(workflow.syntaxErrors.map((e) => e.rule)).toContain("yaml");
    expect(workflow.syntaxErrors[0]?.line).toBeGreaterThanOrEqual(3);
  });

  it("reads every form of on: as a record of triggers", () => {
    const on = (value: string) => Object.keys(triggers(parseWorkflow("x.yml", `on: ${value}\n`)));
    expect(on("push")).toEqual(["push"]);
    expect(on("[push, workflow_call]")).toEqual(["push", "workflow_call"]);
    expect(on("{ workflow_call: { inputs: {} } }")).toEqual(["workflow_call"]);
  });
});
