import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The package root of @cdktf/provider-aws loads all ~2,200 resource modules (seconds, hundreds of
 * MB); the lint rule forbids importing it directly, this test catches any path that still does.
 */
const PROBE = `
import { createRequire } from "node:module";
await import(process.argv[1]);
const loaded = Object.keys(createRequire(import.meta.url).cache)
  .filter((file) => file.includes("@cdktf/provider-aws/lib/"));
process.stdout.write(JSON.stringify(loaded));
`;

describe("the stacks app", () => {
  it("loads only the provider resource modules it uses, never the package root", () => {
    const app = fileURLToPath(new URL("./app.ts", import.meta.url));
    const output = execFileSync(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", PROBE, app],
      { encoding: "utf8" },
    );
    const loaded = JSON.parse(output) as string[];
    expect(loaded.length).toBeGreaterThan(0);
    expect(loaded.filter((file) => file.endsWith("/lib/index.js"))).toEqual([]);
    expect(loaded.length).toBeLessThan(60);
  });
});
