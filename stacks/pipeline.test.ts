import { describe, expect, it } from "vitest";
import { isRepository, oidcSubjects, pipelineRoleName } from "./pipeline.js";

describe("the pipeline's identity", () => {
  it("trusts only the environment's jobs for a deploy role", () => {
    expect(oidcSubjects("acme/chat", "prod", "deploy")).toEqual([
      "repo:acme/chat:environment:prod",
    ]);
  });

  it("trusts pull requests and the default branch's plan jobs for a plan role", () => {
    expect(oidcSubjects("acme/chat", "dev", "plan")).toEqual([
      "repo:acme/chat:pull_request",
      "repo:acme/chat:ref:refs/heads/main",
    ]);
  });

  it("refuses a repository that is not OWNER/NAME, so no wildcard or extra claim slips in", () => {
    for (const bad of [
      "acme",
      "acme/chat/x",
      "acme/*",
      "acme/chat:environment:prod",
      "-acme/chat",
      "acme/..",
    ]) {
      expect(isRepository(bad), bad).toBe(false);
      expect(() => oidcSubjects(bad, "dev", "plan")).toThrow(/OWNER\/NAME/);
    }
    expect(isRepository("Acme-Co/chat.app_2")).toBe(true);
  });

  it("names roles per stage and kind", () => {
    expect(pipelineRoleName("staging", "plan")).toBe("websocket-stages-staging-plan");
  });
});
