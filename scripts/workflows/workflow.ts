import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { isMap, isNode, isScalar, LineCounter, parseDocument } from "yaml";

/** Where GitHub looks for workflows, relative to the repository root. */
export const WORKFLOWS_DIR = ".github/workflows";

export type YamlRecord = Readonly<Record<string, unknown>>;

/** One problem in one workflow file. */
export interface Finding {
  readonly file: string;
  readonly line: number;
  readonly rule: string;
  readonly message: string;
}

export interface Step {
  /** The step's `id:`, which `steps.<id>.outputs` expressions name. */
  readonly id?: string;
  readonly label: string;
  readonly line: number;
  readonly uses?: string;
  readonly usesLine: number;
  readonly with: YamlRecord;
  readonly run?: string;
  /** Line of the first line of the `run:` script. */
  readonly runLine: number;
  readonly shell?: string;
}

export interface Job {
  readonly id: string;
  readonly line: number;
  readonly raw: YamlRecord;
  /** A reusable workflow the job calls instead of running steps. */
  readonly uses?: string;
  readonly usesLine: number;
  readonly with: YamlRecord;
  readonly steps: readonly Step[];
}

export interface Workflow {
  /** Path relative to the repository root, as `uses: ./…` names it. */
  readonly file: string;
  readonly text: string;
  readonly root: YamlRecord;
  readonly jobs: readonly Job[];
  /** YAML syntax errors; a workflow with any is otherwise empty. */
  readonly syntaxErrors: readonly Finding[];
}

export function asRecord(value: unknown): YamlRecord {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as YamlRecord)
    : {};
}

function asString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function parseWorkflow(file: string, text: string): Workflow {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const syntaxErrors = doc.errors.map((error) => ({
      file,
      line: lineCounter.linePos(error.pos[0]).line,
      rule: "yaml",
      message: error.message,
    }));
    return { file, text, root: {}, jobs: [], syntaxErrors };
  }

  const lineAt = (path: readonly (string | number)[]): number => {
    const node = doc.getIn(path, true);
    const offset = isNode(node) ? node.range?.[0] : undefined;
    return offset === undefined ? 1 : lineCounter.linePos(offset).line;
  };
  const keyLine = (parent: readonly (string | number)[], key: string): number => {
    const map = doc.getIn(parent, true);
    const pair = isMap(map)
      ? map.items.find((item) => isScalar(item.key) && item.key.value === key)
      : undefined;
    const offset = isScalar(pair?.key) ? pair.key.range?.[0] : undefined;
    return offset === undefined ? 1 : lineCounter.linePos(offset).line;
  };
  // A block scalar (`run: |`) starts on the line after its indicator.
  const scriptLine = (path: readonly (string | number)[]): number => {
    const node = doc.getIn(path, true);
    const block = isScalar(node) && (node.type === "BLOCK_LITERAL" || node.type === "BLOCK_FOLDED");
    return lineAt(path) + (block ? 1 : 0);
  };

  const root = asRecord(doc.toJS());
  const defaultShell = asString(asRecord(asRecord(root.defaults).run).shell);
  const jobs = Object.entries(asRecord(root.jobs)).map(([id, value]): Job => {
    const raw = asRecord(value);
    const jobShell = asString(asRecord(asRecord(raw.defaults).run).shell) ?? defaultShell;
    const steps = (Array.isArray(raw.steps) ? raw.steps : []).map((stepValue, index): Step => {
      const step = asRecord(stepValue);
      const path = ["jobs", id, "steps", index];
      const uses = asString(step.uses);
      return {
        ...(typeof step.id === "string" ? { id: step.id } : {}),
        label: asString(step.name) ?? uses?.split("@")[0] ?? `step ${index + 1}`,
        line: lineAt(path),
        uses,
        usesLine: lineAt([...path, "uses"]),
        with: asRecord(step.with),
        run: asString(step.run),
        runLine: scriptLine([...path, "run"]),
        shell: asString(step.shell) ?? jobShell,
      };
    });
    return {
      id,
      line: keyLine(["jobs"], id),
      raw,
      uses: asString(raw.uses),
      usesLine: lineAt(["jobs", id, "uses"]),
      with: asRecord(raw.with),
      steps,
    };
  });
  return { file, text, root, jobs, syntaxErrors: [] };
}

/** The triggers of a workflow as a record, whichever of the three `on:` forms it uses. */
export function triggers(workflow: Workflow): YamlRecord {
  const on = workflow.root.on;
  if (typeof on === "string") return { [on]: null };
  if (Array.isArray(on)) return Object.fromEntries(on.map((name) => [String(name), null]));
  return asRecord(on);
}

/** Reads every `*.yml` / `*.yaml` file of WORKFLOWS_DIR under the repository root. */
export async function loadWorkflows(repositoryRoot: string): Promise<Workflow[]> {
  const dir = join(repositoryRoot, WORKFLOWS_DIR);
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [];
    throw error;
  });
  const files = names.filter((name) => /\.ya?ml$/.test(name)).sort();
  return Promise.all(
    files.map(async (name) => {
      const file = `${WORKFLOWS_DIR}/${name}`;
      return parseWorkflow(file, await readFile(join(repositoryRoot, file), "utf8"));
    }),
  );
}
