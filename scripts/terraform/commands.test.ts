import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEPLOYED_STAGES, stackName } from "../../functions/contract.js";
import { STAGE_SETTINGS } from "../../stacks/stages.js";
import { writeFakeBundle } from "../../stacks/synthesized-fixture.js";

/** The terraform commands as a user runs them (through tsx), without terraform where possible. */

const root = dirname(dirname(dirname(new URL(import.meta.url).pathname)));
const tsx = join(root, "node_modules", ".bin", "tsx");

function run(script: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const result = spawnSync(tsx, [join(root, "scripts", "terraform", script), ...args], {
    cwd: root,
    env,
    encoding: "utf8",
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "websocket-stages-commands-"));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("npm run synth", () => {
  it("writes one stack per stage with its zips, and says where", () => {
    const dist = join(scratch, "dist");
    writeFakeBundle(dist);
    const out = join(scratch, "cdktf.out");
    const result = run("synth.ts", ["--dist", dist, "--out", out, "--json"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const { stacks } = JSON.parse(result.stdout) as { stacks: Record<string, string> };
    for (const stage of DEPLOYED_STAGES) {
      expect(stacks[stage]).toBe(join(out, "stacks", stackName(stage)));
      const json = JSON.parse(readFileSync(join(String(stacks[stage]), "cdk.tf.json"), "utf8")) as {
        resource: { aws_lambda_function: Record<string, { filename: string }> };
      };
      for (const lambda of Object.values(json.resource.aws_lambda_function)) {
        expect(existsSync(join(String(stacks[stage]), lambda.filename))).toBe(true);
      }
    }
  });

  it("tells the user to run npm run bundle when the bundles are missing", () => {
    const result = run("synth.ts", ["--dist", join(scratch, "no-dist")]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/manifest\.json is missing\. Run `npm run bundle` first\./);
    expect(result.stderr).not.toMatch(/at .+\.ts:\d+/);
  });
});

describe("npm run plan", () => {
  it("asks for a stage", () => {
    const result = run("plan.ts", []);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Name a stage/);
  });

  it("refuses the local stage, which Terraform does not deploy", () => {
    const result = run("plan.ts", ["local"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /"local" is not deployed with Terraform: use one of dev, staging, prod/,
    );
  });
});

describe("npm run deploy", () => {
  it("says how to make the saved plan it was given but cannot find", () => {
    const result = run("deploy.ts", ["dev", "--plan", join(scratch, "missing.tfplan")]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /No saved plan at .*missing\.tfplan: make one with `npm run plan -- dev --out/,
    );
  });
});

describe("npm run stage", () => {
  it("prints where a stage lives as JSON, from stacks/stages.ts", () => {
    const result = run("stage.ts", ["dev", "--json"], { ...process.env, AWS_REGION: "" });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      stage: "dev",
      region: STAGE_SETTINGS.dev.region,
      stack: stackName("dev"),
    });
  });

  it("fails, naming both regions, when AWS_REGION disagrees with the stage", () => {
    const result = run("stage.ts", ["dev"], { ...process.env, AWS_REGION: "ap-south-2" });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `AWS_REGION is "ap-south-2" but stacks/stages.ts puts dev in "${STAGE_SETTINGS.dev.region}"`,
    );
  });
});

describe("npm run drift", () => {
  it("exits 1 naming the drifted resources of a stage, and lists unchecked stages", () => {
    const plans = join(scratch, "drift-plans");
    mkdirSync(plans, { recursive: true });
    writeFileSync(
      join(plans, "prod.tfplan.json"),
      JSON.stringify({
        stage: "prod",
        planFile: join(plans, "prod.tfplan"),
        hasChanges: true,
        changes: [{ address: "aws_sns_topic.topic", kind: "delete", attributes: [] }],
        counts: { create: 0, update: 0, replace: 0, delete: 1 },
        unchanged: 0,
      }),
    );
    const result = run("drift-check.ts", ["--plans-dir", plans]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("prod: DRIFTED");
    expect(result.stdout).toContain("aws_sns_topic.topic: deleted outside Terraform");
    expect(result.stdout).toContain("dev: not checked");
  });
});

describe("npm run validate", () => {
  it("fails loudly when terraform is not installed", () => {
    // A PATH holding node and nothing else.
    const bin = join(scratch, "bin");
    mkdirSync(bin, { recursive: true });
    symlinkSync(process.execPath, join(bin, "node"));
    const result = run("validate.ts", [], { ...process.env, PATH: bin });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /terraform was not found on PATH\. Install Terraform 1\.10 or newer/,
    );
  });
});
