import { describe, expect, it } from "vitest";
import { actionArgument, UsageError } from "./cli.js";

const USAGE = "Usage: npm run thing -- print|read";
const ACTIONS = { print: "in the build job", read: "in a promotion" } as const;

describe("actionArgument", () => {
  it("returns the action word it was given", () => {
    expect(actionArgument(["print"], ACTIONS, USAGE)).toBe("print");
    expect(actionArgument(["read"], ACTIONS, USAGE)).toBe("read");
  });

  it("names every action and when it is used when none is given", () => {
    expect(() => actionArgument([], ACTIONS, USAGE)).toThrow(
      new UsageError(`Say print (in the build job) or read (in a promotion).\n\n${USAGE}`),
    );
  });

  it("quotes an unknown action, including one that is an Object property name", () => {
    for (const word of ["deploy", "toString", "__proto__"]) {
      expect(() => actionArgument([word], ACTIONS, USAGE)).toThrow(`, not "${word}".`);
    }
  });

  it("refuses a second word", () => {
    expect(() => actionArgument(["print", "extra"], ACTIONS, USAGE)).toThrow(
      /^Unexpected argument extra\./,
    );
  });

  it("lists three actions with commas", () => {
    expect(() => actionArgument(["x"], { a: "1", b: "2", c: "3" }, USAGE)).toThrow(
      /^Say a \(1\), b \(2\) or c \(3\), not "x"\./,
    );
  });
});
