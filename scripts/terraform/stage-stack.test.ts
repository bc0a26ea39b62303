import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applySavedPlan, type PreparedStack, planStage } from "./stage-stack.js";
import { StalePlanError } from "./terraform.js";

/**
 * planStage and applySavedPlan against a stand-in `terraform` on PATH that records its arguments
 * and answers as terraform does: the exit codes of -detailed-exitcode, a stale-plan refusal.
 */
const FAKE = `#!/bin/sh
echo "$*" >>"$FAKE_LOG"
command=$2
case "$command" in
  plan)
    for arg in "$@"; do case "$arg" in -out=*) echo saved >"\${arg#-out=}" ;; esac; done
    exit "\${FAKE_PLAN_EXIT:-2}" ;;
  show)
    for arg in "$@"; do
      if [ "$arg" = -json ]; then
        echo '{"resource_changes":[{"address":"aws_sns_topic.topic","change":{"actions":["delete"]}}]}'
        exit 0
      fi
    done
    echo "  # aws_sns_topic.topic will be destroyed"
    exit 0 ;;
  apply)
    if [ -n "$FAKE_STALE" ]; then
      printf '\\nError: Saved plan is stale\\n\\nThe given plan file can no longer be applied because the state was changed by\\nanother operation after the plan was created.\\n' >&2
      exit 1
    fi
    exit "\${FAKE_APPLY_EXIT:-0}" ;;
esac
exit 0
`;

let dir: string;
let log: string;
const stack = (env: NodeJS.ProcessEnv = {}): PreparedStack => ({
  stage: "prod",
  dir,
  env: { PATH: `${dir}:${process.env.PATH ?? ""}`, FAKE_LOG: log, ...env },
});
const calls = () => readFileSync(log, "utf8").trim().split("\n");

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "websocket-stages-fake-terraform-"));
  log = join(dir, "calls.log");
  writeFileSync(join(dir, "terraform"), FAKE);
  chmodSync(join(dir, "terraform"), 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("planStage", () => {
  it("reads changes from exit code 2 of -detailed-exitcode and takes no lock when told", async () => {
    writeFileSync(log, "");
    const result = await planStage(stack(), join(dir, "prod.tfplan"), { lock: { take: false } });
    expect(result.hasChanges).toBe(true);
    expect(result.summary.counts.delete).toBe(1);
    expect(result.text).toContain("will be destroyed");
    const [plan] = calls();
    expect(plan).toContain("-detailed-exitcode");
    expect(plan).toContain("-lock=false");
    expect(plan).not.toContain("-lock-timeout");
  });

  it("waits for a held lock when it takes one, and reports no changes on exit 0", async () => {
    writeFileSync(log, "");
    const result = await planStage(stack({ FAKE_PLAN_EXIT: "0" }), join(dir, "prod.tfplan"), {
      lock: { take: true, timeout: "10m" },
      refreshOnly: true,
    });
    expect(result.hasChanges).toBe(false);
    const [plan] = calls();
    expect(plan).toContain("-lock-timeout=10m");
    expect(plan).toContain("-refresh-only");
    expect(plan).not.toContain("-lock=false");
  });

  it("fails when terraform plan fails (exit 1)", async () => {
    await expect(
      planStage(stack({ FAKE_PLAN_EXIT: "1" }), join(dir, "prod.tfplan"), {
        lock: { take: false },
      }),
    ).rejects.toThrow(/terraform plan of prod failed \(exit 1\)/);
  });
});

describe("applySavedPlan", () => {
  it("applies the saved plan, waiting for a held lock", async () => {
    writeFileSync(log, "");
    await applySavedPlan(stack(), "prod.tfplan", "7m");
    expect(calls()).toEqual([
      expect.stringMatching(/apply .*-auto-approve -lock-timeout=7m prod\.tfplan$/),
    ]);
  });

  it("turns terraform's stale-plan refusal into a message saying to re-run the promotion", async () => {
    const refused = applySavedPlan(stack({ FAKE_STALE: "1" }), "prod.tfplan");
    await expect(refused).rejects.toBeInstanceOf(StalePlanError);
    await expect(refused).rejects.toThrow(
      /prod\.tfplan for prod is stale: .* changed nothing\. Re-run the promotion/,
    );
  });

  it("reports any other apply failure as a failure, not as a stale plan", async () => {
    const failed = applySavedPlan(stack({ FAKE_APPLY_EXIT: "1" }), "prod.tfplan");
    await expect(failed).rejects.not.toBeInstanceOf(StalePlanError);
    await expect(failed).rejects.toThrow(/terraform apply of prod failed \(exit 1\)/);
  });
});
