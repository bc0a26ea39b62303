import { describe, expect, it } from "vitest";
import { checkHygiene, NODE_MAJOR } from "./hygiene.js";
import { parseWorkflow } from "./workflow.js";

const CHECKOUT = "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0";
const AWS =
  "aws-actions/configure-aws-credentials@a03048d87541d1d9fcf2ecf528a4a65ba9bd7838 # v5.0.0";

function workflow(jobs: string, top = "permissions: {}\n") {
  return parseWorkflow(
    ".github/workflows/ci.yml",
    `# Test workflow.\non: push\n${top}jobs:\n${jobs}`,
  );
}

const rules = (jobs: string, top?: string) => checkHygiene([workflow(jobs, top)]);

describe("checkHygiene", () => {
  it("accepts a job granted exactly what its steps need, with a timeout and pinned actions", () => {
    expect(
      rules(`  deploy:
    runs-on: ubuntu-24.04
    timeout-minutes: 10
    permissions:
      contents: read
      id-token: write
    steps:
      - uses: ${CHECKOUT}
      - uses: ${AWS}
        with: { role-to-assume: arn, aws-region: eu-west-1 }
`),
    ).toEqual([]);
  });

  it("reports a job without a timeout", () => {
    const findings = rules(`  build:
    runs-on: ubuntu-24.04
    permissions: {}
    steps:
      - run: echo hi
`);
    expect(findings.map((f) => [f.rule, f.line])).toEqual([["timeout", 5]]);
  });

  it("reports a grant no step needs and a need nothing grants", () => {
    const findings = rules(`  build:
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    permissions:
      id-token: write
    steps:
      - uses: ${CHECKOUT}
`);
    expect(findings.map((f) => f.message)).toEqual([
      expect.stringContaining("grants id-token: write, which none of its steps needs"),
      expect.stringContaining("needs contents: read (actions/checkout) but does not grant it"),
    ]);
  });

  it("reports a job without permissions and a workflow without top-level permissions: {}", () => {
    const findings = rules(
      `  build:
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    steps:
      - run: echo hi
`,
      "permissions: read-all\n",
    );
    expect(findings.map((f) => f.rule)).toEqual(["permissions", "permissions"]);
    expect(findings[1]?.message).toContain('job "build" must declare its permissions');
  });

  it("needs actions: read to download another run's artifact or read runs with gh", () => {
    const findings = rules(`  promote:
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    permissions: {}
    steps:
      - run: gh api "repos/$GITHUB_REPOSITORY/actions/runs/$RUN_ID"
`);
    expect(findings.map((f) => f.message)).toEqual([
      expect.stringContaining("needs actions: read (gh reading workflow runs"),
    ]);
  });

  it("needs pull-requests: write to comment the plans on the pull request", () => {
    const job = (permissions: string) => `  comment:
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    permissions: ${permissions}
    steps:
      - run: npm run --silent plan-comment -- --plans-dir plans/
`;
    expect(rules(job("{ pull-requests: write }"))).toEqual([]);
    expect(rules(job("{}")).map((f) => f.message)).toEqual([
      expect.stringContaining("needs pull-requests: write (npm run plan-comment"),
    ]);
  });

  it("knows what the promotion gate, the deployment record and build verification need", () => {
    const job = (permissions: string, run: string) => `  gate:
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    permissions: ${permissions}
    steps:
      - run: ${run}
`;
    const check = 'npm run --silent promotion -- check --stage prod --run-id "$RUN_ID"';
    const record =
      'npm run --silent promotion -- record --stage prod --sha "$SHA" --run-id 1 --state success';
    const verify = 'npm run --silent verify-build -- --run-id "$RUN_ID"';
    expect(rules(job("{ actions: read, deployments: read }", check))).toEqual([]);
    expect(rules(job("{ deployments: write }", record))).toEqual([]);
    expect(rules(job("{ actions: read }", verify))).toEqual([]);
    expect(rules(job("{ deployments: read }", record)).map((f) => f.message)).toEqual([
      expect.stringContaining("deployments: write (npm run promotion"),
    ]);
    expect(rules(job("{ deployments: read }", check)).map((f) => f.message)).toEqual([
      expect.stringContaining("actions: read (npm run promotion"),
    ]);
    expect(rules(job("{}", verify)).map((f) => f.message)).toEqual([
      expect.stringContaining("actions: read (npm run verify-build"),
    ]);
  });

  it("reports an action pinned by tag, or by SHA without its version comment", () => {
    const findings = rules(`  build:
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    permissions:
      contents: read
    steps:
      - uses: actions/checkout@v5
      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8
`);
    expect(findings.map((f) => [f.rule, f.line])).toEqual([
      ["pin", 11],
      ["pin", 12],
    ]);
  });

  it("wants the Lambda runtime's Node version in setup-node", () => {
    const job = (version: string) => `  build:
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    permissions: {}
    steps:
      - uses: actions/setup-node@a0853c24544627f65ddf259abe73b1d18a591444 # v5.0.0
        with: { node-version: ${version} }
`;
    expect(NODE_MAJOR).toMatch(/^\d+$/);
    expect(rules(job(NODE_MAJOR))).toEqual([]);
    expect(rules(job("18")).map((f) => f.rule)).toEqual(["node-version"]);
  });

  it("wants a header comment", () => {
    const bare = parseWorkflow(".github/workflows/ci.yml", "on: push\npermissions: {}\njobs: {}\n");
    expect(checkHygiene([bare]).map((f) => f.rule)).toEqual(["header"]);
  });
});
