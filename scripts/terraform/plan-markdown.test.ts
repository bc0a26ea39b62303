import fc from "fast-check";
import { marked } from "marked";
import { describe, expect, it } from "vitest";
import { diffLines, fenceFor, planMarkdown, type StagePlanSection } from "./plan-markdown.js";
import { type SavedPlanSummary, summarizePlan } from "./plan-summary.js";

/**
 * The plan Markdown as GitHub shows it: rendered through a real Markdown renderer, and checked on
 * the HTML a reviewer's browser gets, not on the Markdown source.
 */

const PLAN_TEXT = `Terraform used the selected providers to generate the following execution
plan. Resource actions are indicated with the following symbols:
  + create
  ~ update in-place
  - destroy
-/+ destroy and then create replacement

Terraform will perform the following actions:

  # aws_iam_role.r will be destroyed
  - resource "aws_iam_role" "r" {
      - name = "old" -> null
    }

  # aws_sqs_queue.q must be replaced
-/+ resource "aws_sqs_queue" "q" {
      ~ name = "a" -> "b" # forces replacement
    }

  # aws_sns_topic.t will be created
  + resource "aws_sns_topic" "t" {
      + name = "t"
    }

Plan: 2 to add, 0 to change, 2 to destroy.`;

function saved(stage: SavedPlanSummary["stage"], planJson: object): SavedPlanSummary {
  const summary = summarizePlan(JSON.stringify(planJson));
  return {
    stage,
    planFile: `plans/${stage}.tfplan`,
    hasChanges: summary.changes.length > 0,
    ...summary,
  };
}

const destructive = saved("prod", {
  resource_changes: [
    { address: "aws_iam_role.r", change: { actions: ["delete"] } },
    { address: "aws_sqs_queue.q", change: { actions: ["delete", "create"] } },
    { address: "aws_sns_topic.t", change: { actions: ["create"] } },
    { address: "aws_s3_bucket.b", change: { actions: ["no-op"] } },
  ],
});
const additive = saved("dev", {
  resource_changes: [{ address: "aws_sns_topic.t", change: { actions: ["create"] } }],
});
const unchanged = saved("staging", {
  resource_changes: [{ address: "aws_s3_bucket.b", change: { actions: ["no-op"] } }],
});

function html(sections: StagePlanSection[], maxBytes?: number): string {
  return marked.parse(planMarkdown(sections, { maxBytes }), { async: false, gfm: true });
}

function decodeEntities(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");
}

/** The text of every diff code block in the HTML. */
function diffBlocks(page: string): string[] {
  return [...page.matchAll(/<code class="language-diff">([\s\S]*?)<\/code>/g)].map((m) =>
    decodeEntities(m[1] ?? "").replace(/\n$/, ""),
  );
}

describe("plan Markdown, rendered", () => {
  it("calls out a destroy and a replacement first, each by name and kind, before the counts", () => {
    const page = html([{ kind: "planned", summary: destructive, text: PLAN_TEXT }]);
    const caution = /<blockquote>([\s\S]*?)<\/blockquote>/.exec(page);
    expect(caution).not.toBeNull();
    const warning = caution?.[1] ?? "";
    expect(warning).toContain("would destroy 1 and replace 1 resources");
    expect(warning).toContain("<li><strong>destroy</strong> <code>aws_iam_role.r</code></li>");
    expect(warning).toContain(
      "<li><strong>replace (destroy, then create)</strong> <code>aws_sqs_queue.q</code></li>",
    );
    expect(warning).not.toContain("aws_sns_topic.t");
    expect(page.indexOf("<blockquote>")).toBeLessThan(page.indexOf("<table>"));
    expect(page).toMatch(/<td align="right">1<\/td>\s*<td align="right">0<\/td>/);
  });

  it("has no destroy warning when nothing is destroyed (the control for the test above)", () => {
    const page = html([{ kind: "planned", summary: additive, text: "  + resource {}" }]);
    expect(page).not.toContain("<blockquote>");
    expect(page).toContain("<li><strong>add</strong> <code>aws_sns_topic.t</code></li>");
  });

  it("shows the full plan folded, as a diff whose - and + lines are code, never list items", () => {
    const page = html([{ kind: "planned", summary: destructive, text: PLAN_TEXT }]);
    expect(page).toMatch(/<details><summary>Full plan of prod \(terraform show\)<\/summary>/);
    const [block, ...others] = diffBlocks(page);
    expect(others).toEqual([]);
    expect(block).toContain('- - resource "aws_iam_role" "r" {');
    expect(block).toContain('! -/+ resource "aws_sqs_queue" "q" {');
    expect(block).toContain('+ + resource "aws_sns_topic" "t" {');
    expect(block).toContain("Plan: 2 to add, 0 to change, 2 to destroy.");
    const items = [...page.matchAll(/<li>([\s\S]*?)<\/li>/g)].map((m) => m[1] ?? "");
    expect(items.some((item) => item.includes("resource"))).toBe(false);
    expect(items).toHaveLength(3); // destroy, replace (in the warning), add
  });

  it("keeps plan text with backticks and HTML inside its code block", () => {
    const hostile = `  + description = "\`\`\`"\n\`\`\`\`\`\n</details>\n<script>x</script>\nlast line`;
    const page = html([{ kind: "planned", summary: additive, text: hostile }]);
    const [block] = diffBlocks(page);
    expect(block).toContain("</details>\n<script>x</script>\nlast line");
    expect(page).not.toContain("<script>");
    expect(page.match(/<details>/g)).toHaveLength(1);
    expect(fenceFor("a ````` b")).toBe("``````");
  });

  it("says a stage has no changes, and why a stage was skipped", () => {
    const page = html([
      { kind: "planned", summary: unchanged, text: "No changes." },
      { kind: "skipped", stage: "prod", reason: "pull requests from forks get no AWS credentials" },
    ]);
    expect(page).toContain("<h3><code>staging</code>: no changes</h3>");
    expect(page).toContain("<h3><code>prod</code>: skipped</h3>");
    expect(page).toContain("Not planned: pull requests from forks get no AWS credentials");
  });
});

describe("diffLines", () => {
  it("moves terraform's markers to column 0 and leaves the rest of each line as it was", () => {
    expect(diffLines('  + a = 1\n  ~ b\n-/+ resource\n <= data\n  # comment\n  -"x"')).toBe(
      '+ + a = 1\n! ~ b\n! -/+ resource\n!<= data\n  # comment\n  -"x"',
    );
  });
});

describe("plan Markdown within a size limit", () => {
  const text = (lines: number) =>
    Array.from({ length: lines }, (_, i) => `  ~ attribute_${i} = "before" -> "after"`).join("\n");

  it("cuts long plans to the limit, says so and where the full plans are, and stays valid", () => {
    const sections: StagePlanSection[] = [
      { kind: "planned", summary: destructive, text: text(3000) },
      { kind: "planned", summary: additive, text: text(3000) },
      { kind: "skipped", stage: "staging", reason: "no plan role" },
    ];
    const markdown = planMarkdown(sections, {
      maxBytes: 65_536,
      fullPlansAt: "the run summary of run 42",
    });
    expect(Buffer.byteLength(markdown)).toBeLessThanOrEqual(65_536);
    const page = marked.parse(markdown, { async: false });
    expect(page).toContain("The full plans are in the run summary of run 42.");
    const blocks = diffBlocks(page);
    expect(blocks).toHaveLength(2);
    for (const block of blocks) expect(block).toMatch(/… \d+ more lines cut here$/);
    expect(page).toContain("<strong>destroy</strong> <code>aws_iam_role.r</code>");
    expect(page).toContain("<h3><code>staging</code>: skipped</h3>");
  });

  it("leaves a plan that fits untouched", () => {
    const markdown = planMarkdown([{ kind: "planned", summary: additive, text: text(10) }], {
      maxBytes: 65_536,
    });
    expect(markdown).not.toContain("parts were cut");
    expect(diffBlocks(marked.parse(markdown, { async: false }))[0]).toBe(diffLines(text(10)));
  });

  it("never exceeds the limit and never leaves a fence or <details> open", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: "grapheme", maxLength: 200 }), { maxLength: 400 }),
        fc.integer({ min: 2_000, max: 40_000 }),
        (lines, maxBytes) => {
          const sections: StagePlanSection[] = [
            { kind: "planned", summary: destructive, text: lines.join("\n") },
            { kind: "planned", summary: additive, text: lines.toReversed().join("\n") },
          ];
          const markdown = planMarkdown(sections, { maxBytes });
          expect(Buffer.byteLength(markdown)).toBeLessThanOrEqual(maxBytes);
          const page = marked.parse(markdown, { async: false });
          expect(page.split("<details>").length).toBe(page.split("</details>").length);
          expect(page).toContain("<code>prod</code>");
        },
      ),
      { numRuns: 60 },
    );
  });
});
