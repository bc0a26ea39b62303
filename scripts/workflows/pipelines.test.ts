import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { DEPLOYED_STAGES, STATE_BACKEND_ENV } from "../../functions/contract.js";
import { BUILD_JOB_NAME } from "../github/build-record.js";
import { checkReusableCalls } from "./calls.js";
import { checkDelivery } from "./delivery.js";
import { checkHygiene } from "./hygiene.js";
import { checkNpmScripts, npmScriptsUsed } from "./npm-scripts.js";
import { asRecord, type Job, loadWorkflows, triggers, type Workflow } from "./workflow.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DEPLOY = "./.github/workflows/deploy.yml";
/** A GitHub expression as the YAML text holds it. */
const expression = (body: string) => `\${{ ${body} }}`;

let workflows: Workflow[];
const workflow = (name: string): Workflow => {
  const found = workflows.find((w) => w.file === `.github/workflows/${name}`);
  if (found === undefined) throw new Error(`.github/workflows/${name} is missing`);
  return found;
};
const job = (name: string, id: string): Job => {
  const found = workflow(name).jobs.find((j) => j.id === id);
  if (found === undefined) throw new Error(`${name} has no job ${id}`);
  return found;
};
const deployCalls = (name: string) => workflow(name).jobs.filter((j) => j.uses === DEPLOY);
const scriptsRun = (w: Workflow) =>
  w.jobs.flatMap((j) => j.steps.flatMap((s) => npmScriptsUsed(s.run ?? "").map((u) => u.name)));

beforeAll(async () => {
  workflows = await loadWorkflows(ROOT);
});

describe("the repository's workflows", () => {
  it("pass the reusable-call and hygiene checks", () => {
    expect(workflows.map((w) => w.file)).toEqual([
      ".github/workflows/deploy.yml",
      ".github/workflows/drift.yml",
      ".github/workflows/main.yml",
      ".github/workflows/promote.yml",
      ".github/workflows/pull-request.yml",
    ]);
    expect(workflows.flatMap((w) => w.syntaxErrors)).toEqual([]);
    expect(checkReusableCalls(workflows)).toEqual([]);
    expect(checkHygiene(workflows)).toEqual([]);
    expect(checkDelivery(workflows)).toEqual([]);
  });

  it("run only npm scripts that package.json defines", () => {
    const { scripts } = JSON.parse(readFileSync(`${ROOT}/package.json`, "utf8")) as {
      scripts: Record<string, string>;
    };
    expect(checkNpmScripts(workflows, scripts)).toEqual([]);
  });

  it("plan every deployed stage of the contract on pull requests and in the drift check", () => {
    for (const name of ["pull-request.yml", "drift.yml"]) {
      const matrix = asRecord(asRecord(job(name, "plan").raw.strategy).matrix);
      expect(matrix.stage).toEqual([...DEPLOYED_STAGES]);
    }
    expect(scriptsRun(workflow("pull-request.yml"))).toEqual(
      expect.arrayContaining(["test", "lint:workflows", "bundle", "synth", "plan", "plan-comment"]),
    );
    expect(scriptsRun(workflow("drift.yml"))).toEqual(
      expect.arrayContaining(["bundle", "synth", "lock-providers", "plan", "drift"]),
    );
  });

  it("ship each stack's provider lock file in every build artifact", () => {
    for (const name of ["main.yml", "pull-request.yml", "drift.yml"]) {
      const build = job(name, "build");
      const scripts = build.steps.flatMap((s) => npmScriptsUsed(s.run ?? "").map((u) => u.name));
      expect(scripts.indexOf("lock-providers")).toBeGreaterThan(scripts.indexOf("synth"));
      const upload = build.steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"));
      // .terraform.lock.hcl is a dot-file: upload-artifact drops it unless told.
      expect(upload?.with["include-hidden-files"]).toBe(true);
    }
  });

  it("build once on main and deploy that build to the first stage, in commit order", () => {
    expect(workflow("main.yml").root.concurrency).toEqual({
      group: "main",
      "cancel-in-progress": false,
    });
    const build = job("main.yml", "build");
    expect(scriptsRun(workflow("main.yml"))).toEqual([
      "test",
      "bundle",
      "synth",
      "lock-providers",
      "build-record",
    ]);
    const upload = build.steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"));
    expect(String(upload?.with.path).split("\n").filter(Boolean)).toEqual(["dist/", "cdktf.out/"]);
    const [deploy, ...others] = deployCalls("main.yml");
    expect(others).toEqual([]);
    expect(deploy?.with).toEqual({
      stage: DEPLOYED_STAGES[0],
      "artifact-name": upload?.with.name,
      "run-id": expression("github.run_id"),
    });
  });

  it("promote a chosen Main run's build to the later stages without rebuilding", () => {
    const dispatch = asRecord(triggers(workflow("promote.yml")).workflow_dispatch);
    const stage = asRecord(asRecord(dispatch.inputs).stage);
    expect(stage.options).toEqual(DEPLOYED_STAGES.slice(1));
    const uploaded = job("main.yml", "build").steps.find((s) =>
      s.uses?.startsWith("actions/upload-artifact@"),
    )?.with.name;
    expect(deployCalls("promote.yml").map((j) => j.with)).toEqual([
      {
        stage: expression("inputs.stage"),
        "artifact-name": uploaded,
        "run-id": expression("inputs.run-id"),
      },
    ]);
    for (const name of ["promote.yml", "deploy.yml"]) {
      const scripts = scriptsRun(workflow(name));
      expect(scripts).not.toContain("bundle");
      expect(scripts).not.toContain("synth");
    }
  });

  it("plan without an environment, then apply in the stage's environment, one at a time, and smoke-test", () => {
    const plan = job("deploy.yml", "plan");
    const apply = job("deploy.yml", "apply");
    expect(plan.raw.environment).toBeUndefined();
    expect(apply.raw.environment).toBe(expression("inputs.stage"));
    expect(apply.raw.needs).toBe("plan");
    expect(apply.raw.if).toBe("needs.plan.outputs.has-changes == 'true'");
    expect(asRecord(plan.raw.outputs)["has-changes"]).toBe(
      expression("steps.plan.outputs.has-changes"),
    );
    expect(apply.raw.concurrency).toEqual({
      group: `deploy-${expression("inputs.stage")}`,
      "cancel-in-progress": false,
    });
    for (const j of [plan, apply]) {
      const download = j.steps.find((s) => s.uses?.startsWith("actions/download-artifact@"));
      expect(download?.with).toMatchObject({
        name: expression("inputs.artifact-name"),
        "run-id": expression("inputs.run-id"),
      });
    }
    const scripts = (j: Job) =>
      j.steps.flatMap((s) => npmScriptsUsed(s.run ?? "").map((u) => u.name));
    expect(scripts(plan)).toEqual(["verify-build", "stage", "plan", "plan-report"]);
    expect(scripts(apply)).toEqual(["stage", "deploy", "smoke", "promotion"]);
    const smoke = apply.steps.find((s) => s.run?.includes("smoke"));
    expect(smoke?.run).toMatch(/--stage "\$STAGE" --json/);
  });

  it("give plan and deploy the state backend from repository variables of the contract's names", () => {
    const expected = Object.fromEntries(
      Object.values(STATE_BACKEND_ENV).map((name) => [name, expression(`vars.${name}`)]),
    );
    for (const [name, id] of [
      ["pull-request.yml", "plan"],
      ["drift.yml", "plan"],
      ["deploy.yml", "plan"],
      ["deploy.yml", "apply"],
    ] as const) {
      expect(job(name, id).raw.env).toMatchObject(expected);
    }
  });

  it("record the build in the job whose log promotion reads, and check it before any plan", () => {
    const build = job("main.yml", "build");
    expect(build.raw.name).toBe(BUILD_JOB_NAME);
    const buildScripts = build.steps.flatMap((s) => npmScriptsUsed(s.run ?? "").map((u) => u.name));
    // After everything that writes into the artifact (bundles, stacks, provider lock files).
    expect(buildScripts.slice(-2)).toEqual(["lock-providers", "build-record"]);

    const plan = job("deploy.yml", "plan");
    const planScripts = plan.steps.flatMap((s) => npmScriptsUsed(s.run ?? "").map((u) => u.name));
    expect(planScripts.indexOf("verify-build")).toBeGreaterThanOrEqual(0);
    expect(planScripts.indexOf("verify-build")).toBeLessThan(planScripts.indexOf("plan"));

    const gate = job("promote.yml", "check-build");
    expect(gate.steps.some((s) => /promotion -- check\b/.test(s.run ?? ""))).toBe(true);
    expect(job("promote.yml", "deploy").raw.needs).toBe("check-build");
    const apply = job("deploy.yml", "apply");
    expect(apply.steps.some((s) => /promotion -- record\b/.test(s.run ?? ""))).toBe(true);
  });

  it("pin every action at a release that runs on Node 24", () => {
    const pins = new Set(
      workflows.flatMap((w) =>
        w.jobs.flatMap((j) => j.steps.flatMap((s) => (s.uses === undefined ? [] : [s.uses]))),
      ),
    );
    // Each checked against the release's action.yml / notes (runs.using: node24).
    expect([...pins].sort()).toEqual([...NODE24_RELEASES].sort());
  });
});

/** The pinned releases, all declaring `runs.using: node24`. */
const NODE24_RELEASES = [
  "actions/checkout@de0fac2e4500dabe0009e67214ff5f5447ce83dd", // v6.0.2
  "actions/setup-node@6044e13b5dc448c55e2357c09f80417699197238", // v6.2.0
  "actions/upload-artifact@b7c566a772e6b6bfb58ed0dc250532a479d7789f", // v6.0.0
  "actions/download-artifact@37930b1c2abaa49bbe596cd826c3c89aef350131", // v7.0.0
  "aws-actions/configure-aws-credentials@8df5847569e6427dd6c4fb1cf565c83acfa8afa7", // v6.0.0
  "hashicorp/setup-terraform@5e8dbf3c6d9deaf4193ca7a8fb23f2ac83bb6c85", // v4.0.0
];
