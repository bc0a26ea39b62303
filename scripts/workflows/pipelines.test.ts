import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { DEPLOYED_STAGES, STATE_BACKEND_ENV } from "../../functions/contract.js";
import { checkReusableCalls } from "./calls.js";
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
      ".github/workflows/main.yml",
      ".github/workflows/promote.yml",
      ".github/workflows/pull-request.yml",
    ]);
    expect(workflows.flatMap((w) => w.syntaxErrors)).toEqual([]);
    expect(checkReusableCalls(workflows)).toEqual([]);
    expect(checkHygiene(workflows)).toEqual([]);
  });

  it("run only npm scripts that package.json defines", () => {
    const { scripts } = JSON.parse(readFileSync(`${ROOT}/package.json`, "utf8")) as {
      scripts: Record<string, string>;
    };
    expect(checkNpmScripts(workflows, scripts)).toEqual([]);
  });

  it("plan every deployed stage of the contract on pull requests", () => {
    const matrix = asRecord(asRecord(job("pull-request.yml", "plan").raw.strategy).matrix);
    expect(matrix.stage).toEqual([...DEPLOYED_STAGES]);
    expect(scriptsRun(workflow("pull-request.yml"))).toEqual(
      expect.arrayContaining(["test", "bundle", "synth", "plan"]),
    );
  });

  it("build once on main and deploy that build to the first stage", () => {
    const build = job("main.yml", "build");
    expect(scriptsRun(workflow("main.yml"))).toEqual(["test", "bundle", "synth"]);
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

  it("deploy one stage at a time in its GitHub environment, then smoke-test it", () => {
    const deploy = job("deploy.yml", "deploy");
    expect(deploy.raw.environment).toBe(expression("inputs.stage"));
    expect(deploy.raw.concurrency).toEqual({
      group: `deploy-${expression("inputs.stage")}`,
      "cancel-in-progress": false,
    });
    const download = deploy.steps.find((s) => s.uses?.startsWith("actions/download-artifact@"));
    expect(download?.with).toMatchObject({
      name: expression("inputs.artifact-name"),
      "run-id": expression("inputs.run-id"),
    });
    const scripts = scriptsRun(workflow("deploy.yml"));
    expect(scripts).toEqual(["deploy", "smoke"]);
    const smoke = deploy.steps.find((s) => s.run?.includes("smoke"));
    expect(smoke?.run).toMatch(/--stage "\$STAGE" --json/);
  });

  it("give plan and deploy the state backend from repository variables of the contract's names", () => {
    const expected = Object.fromEntries(
      Object.values(STATE_BACKEND_ENV).map((name) => [name, expression(`vars.${name}`)]),
    );
    for (const [name, id] of [
      ["pull-request.yml", "plan"],
      ["deploy.yml", "deploy"],
    ] as const) {
      expect(job(name, id).raw.env).toMatchObject(expected);
    }
  });
});
