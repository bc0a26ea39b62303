import type { Finding, Workflow } from "./workflow.js";

export interface ScriptUse {
  readonly name: string;
  /** 0-based line within the script. */
  readonly lineIndex: number;
}

// `npm run [flags] <name>`; the flags are npm's own (`--silent`, `-s`, `--if-present`, …).
const RUN = /\bnpm\s+(?:run|run-script)((?:\s+-[\w-]+(?:=\S+)?)*)\s+([A-Za-z0-9][\w:.-]*)/g;
// Lifecycle shortcuts that fail when the script is missing.
const SHORTCUT = /\bnpm\s+(test|t|start)\b/g;

/** The package.json scripts a shell script runs through npm. */
export function npmScriptsUsed(script: string): ScriptUse[] {
  const uses: ScriptUse[] = [];
  script.split("\n").forEach((line, lineIndex) => {
    const code = line.replace(/(^|\s)#.*$/, "");
    for (const match of code.matchAll(RUN)) {
      const [, flags = "", name = ""] = match;
      // npm skips a missing script quietly when asked to.
      if (!/--if-present\b/.test(flags)) uses.push({ name, lineIndex });
    }
    for (const match of code.matchAll(SHORTCUT)) {
      uses.push({ name: match[1] === "t" ? "test" : (match[1] ?? ""), lineIndex });
    }
  });
  return uses;
}

/** Every `npm run <name>` in a workflow must name a script of package.json. */
export function checkNpmScripts(
  workflows: readonly Workflow[],
  scripts: Readonly<Record<string, string>>,
): Finding[] {
  const findings: Finding[] = [];
  for (const workflow of workflows) {
    for (const job of workflow.jobs) {
      for (const step of job.steps) {
        if (step.run === undefined) continue;
        for (const use of npmScriptsUsed(step.run)) {
          if (Object.hasOwn(scripts, use.name)) continue;
          findings.push({
            file: workflow.file,
            line: step.runLine + use.lineIndex,
            rule: "npm-script",
            message: `job "${job.id}" runs npm script "${use.name}", which package.json does not define (add it to "scripts" or fix the name).`,
          });
        }
      }
    }
  }
  return findings;
}
