import { resolve } from "node:path";
import { runIfMain, UsageError } from "../cli.js";
import { planMarkdown } from "../terraform/plan-markdown.js";
import { parseSkipped, readPlanSections } from "./plan-sections.js";
import { stepCommand } from "./step-command.js";
import { appendStepSummary } from "./step-files.js";

const USAGE = `
Usage: npm run plan-report -- --plans-dir DIR [--skipped STAGE=REASON ...]

Prints the plans under DIR as Markdown (a section per stage: destroys and replacements first, the
counts, the full plan folded) and appends it to the run's summary when GITHUB_STEP_SUMMARY is set.
DIR holds what \`npm run plan -- <stage> --out DIR/<stage>.tfplan\` writes (<stage>.tfplan.json and
<stage>.tfplan.txt), directly or in one sub-folder per stage.

  --plans-dir DIR          where the plans are
  --skipped STAGE=REASON   a stage that was not planned and why (repeatable), e.g.
                           --skipped prod="no plan role in AWS_PLAN_ROLES"
`;

/** GitHub refuses a step summary over 1 MiB; leave room for what other steps add. */
export const STEP_SUMMARY_MAX_BYTES = 900 * 1024;

export const planReportCommand = stepCommand(
  {
    usage: USAGE,
    options: {
      "plans-dir": { type: "string" },
      skipped: { type: "string", multiple: true },
    },
  },
  async (parsed, env, out) => {
    const dir = parsed.values["plans-dir"];
    if (dir === undefined)
      throw new UsageError(`Name the plans folder with --plans-dir.\n${USAGE}`);
    const sections = await readPlanSections(
      resolve(dir),
      parseSkipped(parsed.values.skipped ?? [], USAGE),
    );
    const markdown = planMarkdown(sections, {
      maxBytes: STEP_SUMMARY_MAX_BYTES,
      fullPlansAt: "the plan artifacts of this run",
    });
    out(markdown);
    await appendStepSummary(markdown, env);
    return 0;
  },
);

runIfMain(import.meta.url, (argv) => planReportCommand(argv));
