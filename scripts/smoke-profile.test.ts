import { describe, expect, it } from "vitest";
import { STAGE_SETTINGS } from "../stacks/stages.js";
import { smokeBroadcastAllowed } from "./smoke-profile.js";

describe("smokeBroadcastAllowed", () => {
  it("follows each deployed stage's smokeBroadcast setting: never on prod", () => {
    expect(smokeBroadcastAllowed("dev", { noBroadcast: false })).toBe(
      STAGE_SETTINGS.dev.smokeBroadcast,
    );
    expect(smokeBroadcastAllowed("staging", { noBroadcast: false })).toBe(true);
    expect(smokeBroadcastAllowed("prod", { noBroadcast: false })).toBe(false);
  });

  it("allows it on the local stage unless --no-broadcast", () => {
    expect(smokeBroadcastAllowed("local", { noBroadcast: false })).toBe(true);
    expect(smokeBroadcastAllowed("local", { noBroadcast: true })).toBe(false);
    expect(smokeBroadcastAllowed("dev", { noBroadcast: true })).toBe(false);
  });
});
