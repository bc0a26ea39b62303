import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LocalLog, type LocalLogEntry } from "./local-log.js";

const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function logFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "local-log-"));
  dirs.push(dir);
  return join(dir, "state", "local.log");
}

const lines = async (file: string) =>
  (await readFile(file, "utf8"))
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as LocalLogEntry);

describe("LocalLog", () => {
  it("writes every entry of a burst, in order, one JSON line each, by the time it closes", async () => {
    const file = await logFile();
    const heard: LocalLogEntry[] = [];
    const log = new LocalLog(file, (entry) => heard.push(entry));
    for (let i = 0; i < 500; i++) {
      log.write({ type: "gateway", event: "connected", connectionId: `c${i}` });
    }
    // The listener hears each entry as it is written; the file gets the burst in one write.
    expect(heard).toHaveLength(500);
    await log.close();
    const written = await lines(file);
    expect(written.map((entry) => (entry.type === "gateway" ? entry.connectionId : ""))).toEqual(
      Array.from({ length: 500 }, (_, i) => `c${i}`),
    );
    expect(written[0]?.time).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  });

  it("reaches the file without a close, once the event loop turns", async () => {
    const file = await logFile();
    const log = new LocalLog(file);
    log.write({ type: "gateway", event: "closed", connectionId: "a", code: 1000 });
    // Written on the next turn; wait for the file to show it, not for a fixed time.
    let written: LocalLogEntry[] = [];
    while (written.length === 0) {
      await new Promise((resolve) => setImmediate(resolve));
      written = await lines(file).catch(() => []);
    }
    expect(written).toEqual([expect.objectContaining({ connectionId: "a", code: 1000 })]);
    await log.close();
  });

  it("drops entries written after close, and keeps those before it", async () => {
    const file = await logFile();
    const log = new LocalLog(file);
    log.write({ type: "gateway", event: "connected", connectionId: "before" });
    const closed = log.close();
    log.write({ type: "gateway", event: "connected", connectionId: "after" });
    await closed;
    expect(
      (await lines(file)).map((entry) => (entry as { connectionId: string }).connectionId),
    ).toEqual(["before"]);
  });
});
