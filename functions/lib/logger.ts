import { Logger } from "@aws-lambda-powertools/logger";
import type { Context } from "aws-lambda";

/**
 * One JSON logger per function. The service name and level come from POWERTOOLS_SERVICE_NAME and
 * POWERTOOLS_LOG_LEVEL, which the stack sets.
 */
export const logger = new Logger();

export interface InvocationKeys {
  readonly connectionId?: string;
  /** API Gateway's request id; the Lambda request id comes from the context. */
  readonly requestId?: string;
}

/**
 * Starts an invocation's log: the Lambda context (function_request_id, cold_start, …) and the
 * connection keys are attached to every line until the next invocation replaces them.
 */
export function startInvocationLog(context: Context, keys: InvocationKeys): void {
  logger.resetKeys();
  logger.addContext(context);
  const defined = Object.fromEntries(Object.entries(keys).filter(([, v]) => v !== undefined));
  logger.appendKeys(defined);
}
