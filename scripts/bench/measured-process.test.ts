import { describe, expect, it } from "vitest";
import { measureInProcess } from "./measured-process.js";

describe("measureInProcess", () => {
  it("returns the JSON object the process printed last", async () => {
    const figures = await measureInProcess<{ ms: number }>(
      "a test process",
      ["-e", 'process.stdout.write("loading…\\n" + JSON.stringify({ ms: 12.5 }))'],
      { env: process.env },
    );
    expect(figures).toEqual({ ms: 12.5 });
  });

  it("says what failed, with the exit code and the end of stderr", async () => {
    await expect(
      measureInProcess("importing x.mjs", ["-e", 'console.error("boom"); process.exit(3)'], {
        env: process.env,
      }),
    ).rejects.toThrow(/^importing x\.mjs failed \(exit 3\): boom$/);
  });
});
