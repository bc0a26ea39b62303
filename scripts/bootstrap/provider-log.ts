/**
 * Reads the AWS API calls out of a Terraform debug log (`TF_LOG=DEBUG`). The AWS provider's SDK
 * logs every request as an entry starting `HTTP Request Sent:` followed by `key=value` fields in
 * any order — `rpc.service` ("IAM", "CloudWatch Logs"…), `rpc.method` (the API operation),
 * `http.method`, `http.url` — and the request body on the following lines, each prefixed `  | `.
 */

/** One AWS API request as the provider sent it. */
export interface LoggedCall {
  /** The SDK's service name, e.g. "IAM", "ApiGatewayV2", "CloudWatch Logs". */
  readonly service: string;
  /** The API operation, e.g. "CreateRole". */
  readonly operation: string;
  readonly httpMethod: string;
  /** Path and query of the request URL. */
  readonly path: string;
  readonly body: string;
}

const ENTRY_START = /^\d{4}-\d\d-\d\dT\S+ \[[A-Z]+\]\s/;
const FIELD = /([A-Za-z_@][\w.@]*)=("(?:[^"\\]|\\.)*"|\S*)/g;

function fieldValue(raw: string): string {
  if (!raw.startsWith('"')) return raw;
  try {
    return JSON.parse(raw) as string;
  } catch {
    return raw.slice(1, -1);
  }
}

/** Splits a log into entries: a line with a timestamp and level, plus its continuation lines. */
function entries(log: string): string[][] {
  const result: string[][] = [];
  for (const line of log.split("\n")) {
    if (ENTRY_START.test(line) || result.length === 0) result.push([line]);
    else result[result.length - 1]?.push(line);
  }
  return result;
}

/** Every request the provider sent, in the order it logged them. */
export function loggedCalls(log: string): LoggedCall[] {
  const calls: LoggedCall[] = [];
  for (const lines of entries(log)) {
    const first = lines[0] ?? "";
    const marker = first.indexOf("HTTP Request Sent:");
    if (marker < 0) continue;
    const body: string[] = [];
    const fieldText: string[] = [first.slice(marker + "HTTP Request Sent:".length)];
    for (const line of lines.slice(1)) {
      const bodyLine = /^\s*\| ?(.*)$/.exec(line);
      if (bodyLine) body.push(bodyLine[1] ?? "");
      else fieldText.push(line);
    }
    const fields = new Map<string, string>();
    for (const match of fieldText.join(" ").matchAll(FIELD)) {
      fields.set(match[1] ?? "", fieldValue(match[2] ?? ""));
    }
    const service = fields.get("rpc.service");
    const operation = fields.get("rpc.method");
    const url = fields.get("http.url");
    if (service === undefined || operation === undefined || url === undefined) continue;
    const parsed = new URL(url);
    calls.push({
      service,
      operation,
      httpMethod: fields.get("http.method") ?? "",
      path: `${parsed.pathname}${parsed.search}`,
      body: body.join("\n"),
    });
  }
  return calls;
}
