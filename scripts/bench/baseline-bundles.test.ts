import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FUNCTION_NAMES } from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { buildBaselineBundles } from "./baseline-bundles.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "baseline-bundles-"));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe("buildBaselineBundles", () => {
  it("bundles every function of the commit from its own sources", async () => {
    const baseline = await buildBaselineBundles(ROOT, "HEAD", join(scratch, "head"));

    expect(baseline.commit).toMatch(/^[0-9a-f]{40}$/);
    expect([...baseline.files.keys()]).toEqual([...FUNCTION_NAMES]);
    // The bundle runs: it is importable far enough to read its configuration.
    const connect = baseline.files.get("connect");
    expect(connect).toBeDefined();
    await expect(import(`${connect}?baseline`)).rejects.toThrow(/CONNECTIONS_BUCKET is not set/);
  }, 60_000);

  it("refuses a ref that names no commit, saying what to give", async () => {
    const refused = buildBaselineBundles(ROOT, "no-such-ref-4c1d", join(scratch, "bad"));
    await expect(refused).rejects.toBeInstanceOf(ExpectedError);
    await expect(refused).rejects.toThrow(/--baseline no-such-ref-4c1d names no commit/);
  });
});
