import { afterEach, describe, expect, it, vi } from "vitest";
import { UsageError } from "../cli.js";
import { stepCommand } from "./step-command.js";

const USAGE = "Usage: npm run thing -- [--stage STAGE] [--json]";

/** A step command that records each run: what it was given and where it printed. */
function recordingCommand() {
  const runs: Array<{ stage: string | undefined; json: boolean | undefined; env: unknown }> = [];
  const command = stepCommand(
    { usage: USAGE, options: { stage: { type: "string" }, json: { type: "boolean" } } },
    async (parsed, env, out) => {
      runs.push({ stage: parsed.values.stage, json: parsed.values.json, env });
      out(`ran for ${parsed.values.stage}\n`);
      return 3;
    },
  );
  return { command, runs };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("stepCommand", () => {
  it("runs with the parsed command line, the caller's env and output, and returns the run's code", async () => {
    const { command, runs } = recordingCommand();
    const env = { GITHUB_REPOSITORY: "owner/repo" };
    let printed = "";
    const code = await command(["--stage", "dev", "--json"], env, (text) => {
      printed += text;
    });
    expect(code).toBe(3);
    expect(runs).toEqual([{ stage: "dev", json: true, env }]);
    expect(printed).toBe("ran for dev\n");
  });

  it("runs with the process's env and prints to its stdout when given neither", async () => {
    const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const { command, runs } = recordingCommand();
    expect(await command(["--stage", "prod"])).toBe(3);
    expect(runs[0]?.env).toBe(process.env);
    expect(write).toHaveBeenCalledWith("ran for prod\n");
  });

  it("prints the usage for --help and exits 0 without running", async () => {
    const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const { command, runs } = recordingCommand();
    expect(await command(["--help"], {}, () => {})).toBe(0);
    expect(write).toHaveBeenCalledWith(`${USAGE}\n`);
    expect(runs).toEqual([]);
  });

  it("refuses a mistyped command line with a UsageError and does not run", async () => {
    const { command, runs } = recordingCommand();
    await expect(command(["--stage"], {}, () => {})).rejects.toThrow(UsageError);
    await expect(command(["extra"], {}, () => {})).rejects.toThrow(/^Unexpected argument extra\./);
    expect(runs).toEqual([]);
  });
});
