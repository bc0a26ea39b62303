import { describe, expect, it } from "vitest";
import { shellcheckAvailable, shellcheckRunScripts, withoutExpressions } from "./shellcheck.js";
import { parseWorkflow } from "./workflow.js";

describe("withoutExpressions", () => {
  it("blanks GitHub expressions to the same length so columns still match", () => {
    const script = `echo "\${{ inputs.stage }}" "$STAGE"`;
    const blanked = withoutExpressions(script);
    expect(blanked).toBe(`echo "${"_".repeat(19)}" "$STAGE"`);
    expect(blanked).toHaveLength(script.length);
  });
});

// shellcheck is a Debian package .ci/run installs; a fresh machine may lack it.
describe.skipIf(!shellcheckAvailable())("shellcheckRunScripts", () => {
  it("reports a script defect at its line in the workflow file", () => {
    const workflow = parseWorkflow(
      ".github/workflows/ci.yml",
      `on: push
jobs:
  build:
    runs-on: ubuntu-24.04
    steps:
      - run: npm ci
      - run: |
          echo start
          if [ -n "$STAGE" ]; then
            echo "$STAGE"
`,
    );
    const findings = shellcheckRunScripts([workflow]);
    expect(findings.length).toBeGreaterThan(0);
    expect(findings.map((f) => [f.line, f.rule])).toContainEqual([9, "shellcheck SC1046"]);
  });
});
