import { asRecord, type Finding, triggers, type Workflow, type YamlRecord } from "./workflow.js";

const LOCAL_CALL = /^\.\/(\.github\/workflows\/[^@]+\.ya?ml)$/;

/** The local reusable workflow a job calls (`uses: ./.github/workflows/x.yml`), if any. */
export function calledWorkflowFile(uses: string | undefined): string | undefined {
  return uses === undefined ? undefined : LOCAL_CALL.exec(uses)?.[1];
}

function requiredNames(declared: YamlRecord): string[] {
  return Object.entries(declared)
    .filter(([, spec]) => asRecord(spec).required === true)
    .map(([name]) => name);
}

/**
 * Checks every call of a local reusable workflow against that workflow's `on.workflow_call`:
 * GitHub only notices a missing required input or an unknown one when the run starts, and the
 * offline linters do not read the called file.
 */
export function checkReusableCalls(workflows: readonly Workflow[]): Finding[] {
  const byFile = new Map(workflows.map((workflow) => [workflow.file, workflow]));
  const findings: Finding[] = [];
  for (const workflow of workflows) {
    for (const job of workflow.jobs) {
      const target = calledWorkflowFile(job.uses);
      if (target === undefined) continue;
      const at = (message: string) =>
        findings.push({ file: workflow.file, line: job.line, rule: "reusable-call", message });
      const called = byFile.get(target);
      if (called === undefined) {
        at(`job "${job.id}" calls ${target}, which does not exist.`);
        continue;
      }
      const on = triggers(called);
      if (!("workflow_call" in on)) {
        at(`job "${job.id}" calls ${target}, which has no on.workflow_call trigger.`);
        continue;
      }
      const call = asRecord(on.workflow_call);
      for (const kind of ["inputs", "secrets"] as const) {
        const declared = asRecord(call[kind]);
        const passedValue = kind === "inputs" ? job.with : job.raw.secrets;
        if (passedValue === "inherit") continue;
        const passed = asRecord(passedValue);
        const accepted = Object.keys(declared);
        for (const name of requiredNames(declared)) {
          if (!(name in passed)) {
            at(
              `job "${job.id}" calls ${target} without its required ${kind.slice(0, -1)} "${name}".`,
            );
          }
        }
        for (const name of Object.keys(passed)) {
          if (!(name in declared)) {
            const list = accepted.length > 0 ? accepted.join(", ") : "none";
            at(
              `job "${job.id}" passes ${kind.slice(0, -1)} "${name}", which ${target} does not declare (it takes: ${list}).`,
            );
          }
        }
      }
    }
  }
  return findings;
}
