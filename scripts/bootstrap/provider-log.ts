/**
 * Reads the AWS API calls out of a Terraform debug log (`TF_LOG=DEBUG`). The AWS provider's SDK
 * logs every request as an entry starting `HTTP Request Sent:` followed by `key=value` fields in
 * any order — `rpc.service` ("IAM", "CloudWatch Logs"…), `rpc.method` (the API operation),
 * `http.method`, `http.url` — and the request body on the following lines, each prefixed `  | `.
 * A request too long for one log line (Lambda's CreateFunction and UpdateFunctionCode carry the
 * zip) is logged instead as one JSON object with the same field names, cut into chunks that each
 * get their own timestamp prefix, possibly interleaved with other lines.
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

const PROVIDER_LINE =
  /^\d{4}-\d\d-\d\dT\S+ \[[A-Z]+\]\s+provider\.terraform-provider-aws[^:]*: (.*)$/;
const JSON_REQUEST = '{"@caller"';

function callFromJson(text: string): LoggedCall | undefined {
  let fields: Record<string, unknown>;
  try {
    fields = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const service = fields["rpc.service"];
  const operation = fields["rpc.method"];
  const url = fields["http.url"];
  if (fields["@message"] !== "HTTP Request Sent") return undefined;
  if (typeof service !== "string" || typeof operation !== "string" || typeof url !== "string") {
    return undefined;
  }
  const parsed = new URL(url);
  return {
    service,
    operation,
    httpMethod: String(fields["http.method"] ?? ""),
    path: `${parsed.pathname}${parsed.search}`,
    body: typeof fields["http.request.body"] === "string" ? fields["http.request.body"] : "",
  };
}

/** Requests logged as chunked JSON objects; the lines they took are removed from `lines`. */
function jsonCalls(lines: string[]): { calls: LoggedCall[]; rest: string[] } {
  const calls: LoggedCall[] = [];
  const rest: string[] = [];
  let open: string[] | undefined;
  for (const line of lines) {
    const message = PROVIDER_LINE.exec(line)?.[1];
    if (open === undefined) {
      if (message?.startsWith(JSON_REQUEST) && message.includes('"HTTP Request Sent"')) {
        open = [message];
      } else {
        rest.push(line);
        continue;
      }
    } else if (
      message !== undefined &&
      !message.startsWith(JSON_REQUEST) &&
      !/^[A-Za-z[]+[ :]/.test(message)
    ) {
      open.push(message);
    } else {
      rest.push(line);
      continue;
    }
    if (open.at(-1)?.endsWith("}")) {
      const call = callFromJson(open.join(""));
      if (call !== undefined) {
        calls.push(call);
        open = undefined;
      }
    }
  }
  return { calls, rest };
}

/** Every request the provider sent (JSON-logged ones after the others). */
export function loggedCalls(log: string): LoggedCall[] {
  const { calls, rest } = jsonCalls(log.split("\n"));
  for (const lines of entries(rest.join("\n"))) {
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
