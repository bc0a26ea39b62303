import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { checkDelivery, npmCommands } from "./delivery.js";
import { loadWorkflows, parseWorkflow, type Workflow } from "./workflow.js";

/** A GitHub expression as the YAML text holds it. */
const E = (body: string) => `\${{ ${body} }}`;

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

let workflows: Workflow[];
beforeAll(async () => {
  workflows = await loadWorkflows(ROOT);
});

/** The repository's workflows with one file's text edited: a seeded defect. */
function seeded(name: string, edit: (text: string) => string): Workflow[] {
  const file = `.github/workflows/${name}`;
  return workflows.map((workflow) => {
    if (workflow.file !== file) return workflow;
    const text = edit(workflow.text);
    if (text === workflow.text) throw new Error(`the edit changed nothing in ${name}`);
    return parseWorkflow(file, text);
  });
}

/** Replaces exactly one occurrence, so a seed cannot silently miss or hit twice. */
const once = (from: string | RegExp, to: string) => (text: string) => {
  const count = text.split(from).length - 1;
  if (count !== 1) throw new Error(`expected one ${String(from)}, found ${count}`);
  return text.replace(from, to);
};

const rules = (found: ReturnType<typeof checkDelivery>) =>
  found.map((f) => `${f.file.replace(".github/workflows/", "")} ${f.rule}`);

describe("the delivery rules", () => {
  it("hold for the repository's workflows", () => {
    expect(workflows.length).toBeGreaterThanOrEqual(5);
    expect(checkDelivery(workflows)).toEqual([]);
  });

  it("catch an apply that re-plans instead of applying the reviewed plan", () => {
    const found = checkDelivery(seeded("deploy.yml", once(' --plan "plans/$STAGE.tfplan"', "")));
    expect(rules(found)).toEqual(["deploy.yml apply-plan"]);
    expect(found[0]?.message).toMatch(/deploys without --plan/);
  });

  it("catch an apply whose plan no earlier job of the run made", () => {
    const otherArtifact = checkDelivery(
      seeded(
        "deploy.yml",
        once(
          `name: plan-${E("inputs.stage")}\n          path: plans/\n      - uses: hashicorp`,
          "name: plan-of-yesterday\n          path: plans/\n      - uses: hashicorp",
        ),
      ),
    );
    expect(rules(otherArtifact)).toEqual(["deploy.yml apply-plan"]);
    // The same artifact name, but taken from another run.
    const otherRun = checkDelivery(
      seeded(
        "deploy.yml",
        once(
          `name: plan-${E("inputs.stage")}\n          path: plans/\n      - uses: hashicorp`,
          `name: plan-${E("inputs.stage")}\n          run-id: ${E("inputs.run-id")}\n          path: plans/\n      - uses: hashicorp`,
        ),
      ),
    );
    expect(rules(otherRun)).toEqual(["deploy.yml apply-plan"]);
    // The apply no longer waits for the plan job.
    const unordered = checkDelivery(seeded("deploy.yml", once("    needs: plan\n", "")));
    expect(rules(unordered)).toContain("deploy.yml apply-plan");
  });

  it("catch approval (an environment) on a plan job", () => {
    const found = checkDelivery(
      seeded(
        "deploy.yml",
        once(
          `    name: Plan ${E("inputs.stage")}\n`,
          `    name: Plan ${E("inputs.stage")}\n    environment: ${E("inputs.stage")}\n`,
        ),
      ),
    );
    // The plan role does not trust an environment subject either.
    expect(rules(found)).toEqual(["deploy.yml plan-environment", "deploy.yml oidc"]);
  });

  it("catch a pull-request or drift plan that can take the state lock", () => {
    for (const name of ["pull-request.yml", "drift.yml", "deploy.yml"]) {
      const found = checkDelivery(seeded(name, once(" --no-lock", "")));
      expect(rules(found)).toEqual([`${name} plan-lock`]);
    }
  });

  it("catch a region read from anything but the project", () => {
    const found = checkDelivery(
      seeded(
        "pull-request.yml",
        once(
          `aws-region: ${E("steps.where.outputs.region")}`,
          `aws-region: ${E("vars.AWS_REGION")}`,
        ),
      ),
    );
    expect(rules(found)).toEqual(["pull-request.yml region-from-project", "pull-request.yml oidc"]);
    const literal = checkDelivery(
      seeded(
        "drift.yml",
        once(`aws-region: ${E("steps.where.outputs.region")}`, "aws-region: eu-west-1"),
      ),
    );
    expect(rules(literal)).toEqual(["drift.yml oidc"]);
    expect(literal[0]?.message).toMatch(/take it from the project/);
    const setForTheSteps = checkDelivery(
      seeded(
        "main.yml",
        once('  CHECKPOINT_DISABLE: "1"\n', '  CHECKPOINT_DISABLE: "1"\n  AWS_REGION: us-east-1\n'),
      ),
    );
    expect(rules(setForTheSteps)).toEqual(["main.yml region-from-project"]);
  });

  it("catch a deploy role assumed without the stage's environment", () => {
    const found = checkDelivery(
      seeded("deploy.yml", once(`    environment: ${E("inputs.stage")}\n`, "")),
    );
    expect(rules(found)).toEqual(["deploy.yml oidc"]);
    expect(found[0]?.message).toContain(
      "presenting repo:owner/repository:ref:refs/heads/main, which the role does not trust",
    );
  });

  it("catch a plan role assumed from a branch other than the default one", () => {
    const found = checkDelivery(
      seeded("main.yml", once("branches: [main]", "branches: [release]")),
    );
    expect(rules(found)).toEqual(["deploy.yml oidc"]);
  });

  it("catch a role that does not come from npm run stage", () => {
    const found = checkDelivery(
      seeded(
        "deploy.yml",
        once(
          `role-to-assume: ${E("steps.where.outputs.role-arn")}\n          role-session-name: deploy`,
          `role-to-assume: ${E("vars.AWS_DEPLOY_ROLE_ARN")}\n          role-session-name: deploy`,
        ),
      ),
    );
    expect(rules(found)).toEqual(["deploy.yml oidc"]);
  });
});

describe("npmCommands", () => {
  it("finds a script's arguments across continuation lines and ignores comments", () => {
    const step = {
      label: "x",
      line: 1,
      usesLine: 1,
      with: {},
      runLine: 1,
      run: "npm run --silent plan -- dev \\\n  --out p.tfplan --no-lock\n# npm run plan -- prod\nnpm run planner\n",
    };
    expect(npmCommands(step, "plan")).toEqual([" -- dev --out p.tfplan --no-lock"]);
  });
});
