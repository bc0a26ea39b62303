import { describe, expect, it } from "vitest";
import {
  ENV,
  FUNCTION_NAMES,
  FUNCTIONS,
  functionForRoute,
  ROUTE_KEYS,
  SERVED_ROUTE_KEYS,
} from "./contract.js";

describe("contract", () => {
  it("has exactly one function serving each route key", () => {
    for (const routeKey of Object.values(ROUTE_KEYS)) {
      const serving = FUNCTION_NAMES.filter((fn) => FUNCTIONS[fn].routeKeys.includes(routeKey));
      expect(serving, routeKey).toHaveLength(1);
    }
    expect([...SERVED_ROUTE_KEYS].sort()).toEqual(Object.values(ROUTE_KEYS).sort());
  });

  it("names the function behind a route", () => {
    expect(functionForRoute(ROUTE_KEYS.connect)).toBe("connect");
    expect(functionForRoute(ROUTE_KEYS.default)).toBe("message");
  });

  it("has exactly one fan-out worker, which may only post, remove stale connections and hand on redeliveries", () => {
    expect(FUNCTION_NAMES.filter((fn) => FUNCTIONS[fn].shardWorker)).toEqual(["fanout"]);
    expect(FUNCTIONS.fanout.permissions.map((p) => p.action).sort()).toEqual([
      "execute-api:ManageConnections",
      "s3:DeleteObject",
      "sns:Publish",
    ]);
    expect(FUNCTIONS.fanout.routeKeys).toEqual([]);
    expect(FUNCTIONS.fanout.topicSubscriber).toBe(false);
  });

  it("has exactly one topic subscriber", () => {
    expect(FUNCTION_NAMES.filter((fn) => FUNCTIONS[fn].topicSubscriber)).toEqual(["subscriber"]);
  });

  it("names each environment variable once, so a name maps back to one key", () => {
    const names = Object.values(ENV);
    expect(new Set(names).size).toBe(names.length);
  });
});
