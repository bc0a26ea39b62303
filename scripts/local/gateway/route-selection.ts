import {
  type FunctionName,
  functionForRoute,
  ROUTE_KEYS,
  ROUTE_SELECTION_FIELD,
  type RouteKey,
  SERVED_ROUTE_KEYS,
} from "../../../functions/contract.js";

/**
 * API Gateway's route selection for `$request.body.<field>`: a JSON frame's field value, as a
 * string, picks the route with that key; anything else (binary, not JSON, no such field, no such
 * route) goes to $default. Undefined when no route applies (no $default route either).
 */
export function selectRoute(data: Buffer, isBinary: boolean): RouteKey | undefined {
  const fallback = SERVED_ROUTE_KEYS.includes(ROUTE_KEYS.default) ? ROUTE_KEYS.default : undefined;
  if (isBinary) return fallback;
  let value: unknown;
  try {
    value = JSON.parse(data.toString("utf8"));
  } catch {
    return fallback;
  }
  if (typeof value !== "object" || value === null || !(ROUTE_SELECTION_FIELD in value))
    return fallback;
  const selected = (value as Record<string, unknown>)[ROUTE_SELECTION_FIELD];
  const key = typeof selected === "string" ? selected : JSON.stringify(selected);
  const lifecycle: readonly string[] = [ROUTE_KEYS.connect, ROUTE_KEYS.disconnect];
  const route = SERVED_ROUTE_KEYS.find((served) => served === key && !lifecycle.includes(served));
  return route ?? fallback;
}

/** The function integrated with a route, if any (a $connect integration is optional). */
export function routeFunction(routeKey: RouteKey): FunctionName | undefined {
  return SERVED_ROUTE_KEYS.includes(routeKey) ? functionForRoute(routeKey) : undefined;
}
