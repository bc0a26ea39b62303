import type { DeployedStage } from "../../functions/contract.js";
import type { ChangeKind, ResourceChange, SavedPlanSummary } from "./plan-summary.js";

/**
 * The plans of a change as GitHub-flavoured Markdown, for a PR comment and a run summary: a
 * section per stage, destroys and replacements first and loud, then the counts, then the full
 * plan folded and fenced as `diff` so that `-` and `+` lines never render as bullet points.
 */

export type StagePlanSection =
  | { readonly kind: "planned"; readonly summary: SavedPlanSummary; readonly text: string }
  | { readonly kind: "skipped"; readonly stage: DeployedStage; readonly reason: string };

export interface PlanMarkdownOptions {
  /** Upper bound of the result in UTF-8 bytes (a PR comment holds 65,536 characters). */
  readonly maxBytes?: number;
  /** Where the untrimmed plans are, said wherever something had to be cut. */
  readonly fullPlansAt?: string;
  /** A line under the heading, e.g. which commit and run the plans are of. */
  readonly intro?: string;
}

const VERB: Record<ChangeKind, string> = {
  create: "add",
  update: "change",
  replace: "replace",
  delete: "destroy",
};

const MAX_REASON_CHARS = 500;
/** Per stage, when even the plan texts cut to fit are too long. */
const FALLBACK_LISTED_CHANGES = 20;

/** A code span that holds `text` whatever backticks it contains. */
export function inlineCode(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = "`".repeat(longest + 1);
  const pad = text.startsWith("`") || text.endsWith("`") ? " " : "";
  return `${ticks}${pad}${text}${pad}${ticks}`;
}

/** A fence longer than any run of backticks in `text`, so the text cannot close it early. */
export function fenceFor(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`{3,}/g)].map((m) => m[0].length));
  return "`".repeat(Math.max(3, longest + 1));
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * Terraform indents its `+ - ~ -/+` markers; a diff highlighter only colours column 0. Each
 * marked line gets a diff sign in column 0 (`!` for in-place changes and replacements) and keeps
 * the rest of terraform's line as it was.
 */
export function diffLines(text: string): string {
  return text
    .split("\n")
    .map((line) => {
      const match = /^( *)(-\/\+|\+\/-|<=|[-+~]) /.exec(line);
      if (match === null) return line;
      const [, indent = "", marker = ""] = match;
      const sign = marker === "+" ? "+" : marker === "-" ? "-" : "!";
      return indent.length > 0 ? `${sign}${line.slice(1)}` : `${sign} ${line}`;
    })
    .join("\n");
}

function countsLine(summary: SavedPlanSummary): string {
  const { counts } = summary;
  return `${counts.create} to add, ${counts.update} to change, ${counts.replace} to replace, ${counts.delete} to destroy`;
}

function changeLine(change: ResourceChange): string {
  const detail = change.attributes.length > 0 ? ` (${change.attributes.join(", ")})` : "";
  const verb = change.kind === "replace" ? "replace (destroy, then create)" : VERB[change.kind];
  return `- **${verb}** ${inlineCode(change.address)}${detail}`;
}

function listed(changes: readonly ResourceChange[], limit: number): string[] {
  const lines = changes.slice(0, limit).map(changeLine);
  if (changes.length > limit) lines.push(`- … and ${changes.length - limit} more`);
  return lines;
}

interface Rendering {
  /** Plan text per stage, or undefined to leave the full plan out. */
  readonly textOf: (section: Extract<StagePlanSection, { kind: "planned" }>) => string | undefined;
  readonly changesListed: number;
}

function plannedSection(
  section: Extract<StagePlanSection, { kind: "planned" }>,
  rendering: Rendering,
): string {
  const { summary } = section;
  const stage = inlineCode(summary.stage);
  const parts: string[] = [];
  if (!summary.hasChanges) {
    parts.push(`### ${stage}: no changes`, `${summary.unchanged} resources, all up to date.`);
  } else {
    parts.push(`### ${stage}: ${countsLine(summary)}`);
    const destructive = summary.changes.filter((c) => c.kind === "delete" || c.kind === "replace");
    if (destructive.length > 0) {
      const destroys = summary.counts.delete;
      const replaces = summary.counts.replace;
      parts.push(
        [
          `> [!CAUTION]`,
          `> **${stage} would destroy ${destroys} and replace ${replaces} resource${destroys + replaces === 1 ? "" : "s"}: data in them is lost. Read these before approving.**`,
          ...listed(destructive, rendering.changesListed).map((line) => `> ${line}`),
        ].join("\n"),
      );
    }
    parts.push(
      [
        "| add | change | replace | destroy | unchanged |",
        "|---:|---:|---:|---:|---:|",
        `| ${summary.counts.create} | ${summary.counts.update} | ${summary.counts.replace} | ${summary.counts.delete} | ${summary.unchanged} |`,
      ].join("\n"),
    );
    const others = summary.changes.filter((c) => c.kind === "create" || c.kind === "update");
    if (others.length > 0) parts.push(listed(others, rendering.changesListed).join("\n"));
  }
  const text = rendering.textOf(section);
  if (text !== undefined && text.trim() !== "") {
    const body = diffLines(text.replace(/\s+$/, ""));
    const fence = fenceFor(body);
    parts.push(
      [
        `<details><summary>Full plan of ${escapeHtml(summary.stage)} (terraform show)</summary>`,
        "",
        `${fence}diff`,
        body,
        fence,
        "",
        "</details>",
      ].join("\n"),
    );
  }
  return parts.join("\n\n");
}

function skippedSection(section: Extract<StagePlanSection, { kind: "skipped" }>): string {
  const reason =
    section.reason.length > MAX_REASON_CHARS
      ? `${section.reason.slice(0, MAX_REASON_CHARS)}…`
      : section.reason;
  return `### ${inlineCode(section.stage)}: skipped\n\nNot planned: ${reason.replace(/\s+/g, " ")}`;
}

function render(
  sections: readonly StagePlanSection[],
  rendering: Rendering,
  notes: readonly string[],
): string {
  const body = sections.map((section) =>
    section.kind === "planned" ? plannedSection(section, rendering) : skippedSection(section),
  );
  const heading = "## Terraform plans";
  return `${[heading, ...notes.filter((n) => n !== ""), ...body].join("\n\n")}\n`;
}

function bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** The first lines of `text` that fit in `budget` bytes, and a line saying how much was cut. */
function cutText(text: string, budget: number): string {
  const lines = text.replace(/\s+$/, "").split("\n");
  const kept: string[] = [];
  let used = 0;
  for (const line of lines) {
    used += bytes(line) + 1;
    if (used > budget) break;
    kept.push(line);
  }
  if (kept.length === lines.length) return text;
  return `${kept.join("\n")}\n… ${lines.length - kept.length} more lines cut here`;
}

export function planMarkdown(
  sections: readonly StagePlanSection[],
  options: PlanMarkdownOptions = {},
): string {
  const max = options.maxBytes ?? Number.POSITIVE_INFINITY;
  const where = options.fullPlansAt ?? "the workflow run's summary and its plan artifacts";
  const intro = options.intro ?? "";
  const full = render(sections, { textOf: (s) => s.text, changesListed: Infinity }, [intro]);
  if (bytes(full) <= max) return full;

  const note = [
    intro,
    `> [!NOTE]\n> Too long for one message: parts were cut. The full plans are in ${where}.`,
  ];
  const withText = sections.filter((s) => s.kind === "planned" && s.text.trim() !== "").length;
  const skeleton = render(sections, { textOf: () => "", changesListed: Infinity }, note);
  // Room for each stage's <details> wrapper, fence and the "cut here" line.
  const perStage = Math.floor((max - bytes(skeleton)) / Math.max(1, withText)) - 400;
  if (perStage > 0) {
    const cut = render(
      sections,
      { textOf: (s) => cutText(s.text, perStage), changesListed: Infinity },
      note,
    );
    if (bytes(cut) <= max) return cut;
  }
  const brief = render(
    sections,
    { textOf: () => undefined, changesListed: FALLBACK_LISTED_CHANGES },
    note,
  );
  if (bytes(brief) <= max) return brief;
  // Only a limit smaller than three headings gets here: say where to look, nothing else.
  return `## Terraform plans\n\nThe plans are in ${where}.\n`.slice(0, Math.max(0, max));
}
