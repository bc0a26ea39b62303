import { describe, expect, it } from "vitest";
import { benchFrame, passed, Receipts } from "./receipts.js";

describe("bench receipts", () => {
  it("passes when every client got every message once, in any order", () => {
    const receipts = new Receipts(2);
    receipts.record(0, benchFrame(1));
    receipts.record(1, benchFrame(2));
    receipts.record(0, benchFrame(2));
    receipts.record(1, benchFrame(1));

    const audit = receipts.audit([1, 2]);

    expect(audit).toEqual({ expected: 4, lost: 0, duplicated: 0, unknown: 0, examples: [] });
    expect(passed(audit)).toBe(true);
  });

  it("counts a message one client never got as lost", () => {
    const receipts = new Receipts(3);
    for (const client of [0, 2]) receipts.record(client, benchFrame(7));

    const audit = receipts.audit([7]);

    expect(audit).toMatchObject({ lost: 1, duplicated: 0, unknown: 0 });
    expect(audit.examples).toEqual(["client #1: message 7 lost"]);
    expect(passed(audit)).toBe(false);
  });

  it("counts every extra copy as a duplicate", () => {
    const receipts = new Receipts(1);
    for (let i = 0; i < 3; i += 1) receipts.record(0, benchFrame(4));

    const audit = receipts.audit([4]);

    expect(audit).toMatchObject({ lost: 0, duplicated: 2, unknown: 0 });
    expect(audit.examples).toEqual(["client #0: message 4 received 3 times"]);
    expect(passed(audit)).toBe(false);
  });

  it("counts frames that are not bench messages, or were never sent, as unknown", () => {
    const receipts = new Receipts(1);
    receipts.record(0, benchFrame(1));
    receipts.record(0, "not json");
    receipts.record(0, benchFrame(99));

    expect(receipts.audit([1])).toMatchObject({ lost: 0, duplicated: 0, unknown: 2 });
  });

  it("says how many distinct clients have a message, duplicates not counted", () => {
    const receipts = new Receipts(2);

    expect(receipts.record(0, benchFrame(5))).toBe(1);
    expect(receipts.record(0, benchFrame(5))).toBe(1);
    expect(receipts.record(1, benchFrame(5))).toBe(2);
  });
});
