import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { FunctionName, Stage, StageOutputs } from "../functions/contract.js";
import { ERROR_CODES } from "../functions/lib/protocol.js";
import { describeClosure, ExpectationError, type Frame, TestClient } from "./client.js";
import { ExpectedError } from "./errors.js";
import { echoReplyOf, errorFrameCode, isBroadcastOf, isErrorFrame } from "./frames.js";
import { publish } from "./publish.js";
import { registryKeys } from "./registry.js";

/**
 * The smoke test: does a stage work end to end? Two clients connect; each echoes a nonce and alone
 * receives the reply (client → function → @connections) with its connection id; a message
 * published to the stage's topic addressed to those two ids reaches both; where the stage's
 * profile allows, a broadcast reaches both; a malformed frame is answered with an error to its
 * sender only; closing removes both from the registry (checked on the local stage, whose S3 we
 * reach).
 *
 * Smoke traffic never reaches anyone else: the topic message is addressed to the smoke clients'
 * own ids, and the one step that reaches every connection — a client broadcast — runs only when
 * `broadcast` is allowed (never on prod, where real users are connected).
 */

export const SMOKE_STEPS = [
  { name: "connect", title: "connect two clients" },
  { name: "reply", title: "A and B each echo a nonce; each alone gets its reply and its id" },
  {
    name: "sns-delivery",
    title: "publish a nonce addressed to A and B; both receive exactly it",
  },
  { name: "broadcast", title: "A broadcasts; A and B receive {message}" },
  { name: "malformed-frame", title: "A sends a malformed frame; A alone gets an error and stays" },
  { name: "close", title: "close both clients" },
] as const;
export type StepName = (typeof SMOKE_STEPS)[number]["name"];

export interface StepFailure {
  readonly expected: string;
  readonly received: string;
  /** Where to look next. */
  readonly next: string;
}

export interface StepResult {
  /** 1-based position in SMOKE_STEPS. */
  readonly number: number;
  readonly name: StepName;
  readonly title: string;
  readonly status: "passed" | "failed" | "skipped";
  readonly durationMs: number;
  /** What was measured or observed, one line. */
  readonly detail: string;
  readonly failure?: StepFailure;
}

export interface SmokeLatencies {
  /** Handshake time per client. */
  readonly connectMs?: { readonly a: number; readonly b: number };
  /** From sending an echo to its reply's arrival, per client. */
  readonly replyMs?: { readonly a: number; readonly b: number };
  /** From Publish to the frame's arrival, per client. */
  readonly snsDeliveryMs?: { readonly a: number; readonly b: number };
  /** From sending the broadcast to the frame's arrival, per client. */
  readonly broadcastMs?: { readonly a: number; readonly b: number };
  /** From sending the malformed frame to the error frame's arrival. */
  readonly errorFrameMs?: number;
}

export interface SmokeResult {
  readonly stage: Stage;
  readonly websocketUrl: string;
  readonly passed: boolean;
  readonly durationMs: number;
  readonly timeoutMs: number;
  readonly steps: readonly StepResult[];
  readonly latencies: SmokeLatencies;
}

export interface SmokeOptions {
  /** Bound on every wait: the handshake, each expected frame, the registry settling. */
  readonly timeoutMs: number;
  /**
   * The stage's profile: whether the client-broadcast step may run. A broadcast reaches every
   * connected client, so a stage with real users (prod) says false and the step is skipped.
   */
  readonly broadcast: boolean;
  /** Called as each step ends (and for each skipped step). */
  readonly onStep?: (step: StepResult) => void;
  /**
   * Check that closing empties the registry. Default: only for a stage whose outputs carry an S3
   * endpoint (the local stage).
   */
  readonly checkRegistry?: boolean;
}

/** How often the registry is listed while waiting for $disconnect to remove connections. */
const REGISTRY_POLL_MS = 50;

interface Clients {
  a: TestClient;
  b: TestClient;
}

export async function runSmoke(outputs: StageOutputs, options: SmokeOptions): Promise<SmokeResult> {
  const started = performance.now();
  const timeoutMs = options.timeoutMs;
  const checkRegistry = options.checkRegistry ?? outputs.endpoints !== undefined;
  const latencies: {
    -readonly [K in keyof SmokeLatencies]: SmokeLatencies[K];
  } = {};
  const steps: StepResult[] = [];
  let clients: Clients | undefined;
  let registered: string[] = [];
  let connectionIds: { a: string; b: string } | undefined;

  const logs = (fn: FunctionName) => `npm run logs -- ${outputs.stage} --function ${fn}`;
  /** Steps this stage's profile leaves out, with the reason. */
  const excluded: Partial<Record<StepName, string>> = options.broadcast
    ? {}
    : {
        broadcast:
          "not in this stage's profile: a broadcast reaches every connected client, real users included",
      };
  const bodies: Record<StepName, { next: string; run: () => Promise<string> }> = {
    connect: {
      next: `check the stage is up (\`npm run outputs -- ${outputs.stage}\`), then \`${logs("connect")}\``,
      run: async () => {
        const before = checkRegistry
          ? new Set(await registryKeys(outputs, { timeoutMs }))
          : undefined;
        clients = await connectBoth(outputs.websocketUrl, timeoutMs);
        const { a, b } = clients;
        latencies.connectMs = { a: a.connectMs, b: b.connectMs };
        for (const [label, client] of [
          ["A", a],
          ["B", b],
        ] as const) {
          if (client.handshakeStatus !== 101) {
            throw new ExpectationError(
              `client ${label}'s handshake to answer HTTP 101`,
              `it answered ${client.handshakeStatus}`,
            );
          }
        }
        let registry = "";
        if (before !== undefined) {
          registered = (await registryKeys(outputs, { timeoutMs })).filter(
            (key) => !before.has(key),
          );
          if (registered.length < 2) {
            throw new ExpectationError(
              `2 new connections in the registry s3://${outputs.connectionsBucket}/${outputs.connectionsPrefix}`,
              `${registered.length} appeared`,
            );
          }
          registry = `, registry +${registered.length}`;
        }
        return `handshakes 101, A ${ms(a.connectMs)}, B ${ms(b.connectMs)}${registry}`;
      },
    },
    reply: {
      next: `\`${logs("message")}\``,
      run: async () => {
        const { a, b } = connected(clients);
        // One after the other: one warm function answers both, as a real client's would.
        const replyA = await echoAndReceive("A", a, timeoutMs);
        const replyB = await echoAndReceive("B", b, timeoutMs);
        for (const [label, client, other] of [
          ["A", a, replyB],
          ["B", b, replyA],
        ] as const) {
          const leaked = client.frames.find((frame) => frame.data.includes(other.nonce));
          if (leaked !== undefined) {
            throw new ExpectationError(
              `only the sender to receive its echo reply`,
              `client ${label} received the other client's reply ${JSON.stringify(leaked.data)}`,
            );
          }
        }
        connectionIds = { a: replyA.connectionId, b: replyB.connectionId };
        latencies.replyMs = { a: replyA.ms, b: replyB.ms };
        return `A after ${ms(replyA.ms)}, B after ${ms(replyB.ms)}; ids ${replyA.connectionId}, ${replyB.connectionId}`;
      },
    },
    "sns-delivery": {
      next: `check the topic's subscriber: \`${logs("subscriber")}\``,
      run: async () => {
        const { a, b } = connected(clients);
        const ids = connectionIds;
        if (ids === undefined) throw new Error("the clients' connection ids are not known");
        const nonce = `smoke-sns-${randomUUID()}`;
        const sent = performance.now();
        const messageId = await publish(outputs, nonce, {
          timeoutMs,
          connectionIds: [ids.a, ids.b],
        });
        const [atA, atB] = await Promise.all(
          (
            [
              ["A", a],
              ["B", b],
            ] as const
          ).map(async ([label, client]) => {
            const frame = await client.next((f) => f.data.includes(nonce), {
              timeoutMs,
              expected: `client ${label} to receive the published nonce ${nonce}`,
            });
            if (frame.data !== nonce) {
              throw new ExpectationError(
                `client ${label} to receive exactly ${JSON.stringify(nonce)}`,
                `it received ${JSON.stringify(frame.data)}`,
              );
            }
            return frame.at - sent;
          }),
        );
        latencies.snsDeliveryMs = { a: atA as number, b: atB as number };
        return `MessageId ${messageId} to A and B only; A after ${ms(atA as number)}, B after ${ms(atB as number)}`;
      },
    },
    broadcast: {
      next: `\`${logs("message")}\``,
      run: async () => {
        const { a, b } = connected(clients);
        const { atA, atB } = await broadcastAndReceive(a, b, timeoutMs);
        latencies.broadcastMs = { a: atA, b: atB };
        return `A after ${ms(atA)}, B after ${ms(atB)}`;
      },
    },
    "malformed-frame": {
      next: `\`${logs("message")}\``,
      run: async () => {
        const { a, b } = connected(clients);
        const markB = b.mark();
        const sent = performance.now();
        a.send(MALFORMED_FRAME);
        const error = await a.next((frame) => isErrorFrame(frame.data), {
          timeoutMs,
          expected: `client A to receive an error frame {"error":{"code","message"}} for the malformed frame ${JSON.stringify(MALFORMED_FRAME)}`,
        });
        latencies.errorFrameMs = error.at - sent;
        if (!a.isOpen) {
          const closure = await Promise.race([a.whenClosed(), delay(timeoutMs)]);
          throw new ExpectationError(
            "client A to stay connected after its error frame",
            closure === undefined
              ? "its connection is closing"
              : `it was closed (${describeClosure(closure)})`,
          );
        }
        // Still connected, and B is listening: both get their own replies after the error.
        await echoAndReceive("A", a, timeoutMs);
        await echoAndReceive("B", b, timeoutMs);
        const leaked = b.framesSince(markB).filter((frame) => isErrorFrame(frame.data));
        if (leaked.length > 0) {
          throw new ExpectationError(
            "only client A to receive the error frame",
            `client B received ${JSON.stringify(leaked[0]?.data)}`,
          );
        }
        const code = errorFrameCode(error.data);
        if (code !== ERROR_CODES.notJson) {
          throw new ExpectationError(
            `the error code ${ERROR_CODES.notJson} for a frame that is not JSON`,
            `the code ${code}: ${JSON.stringify(error.data)}`,
          );
        }
        return `error ${code} after ${ms(latencies.errorFrameMs)}, B got none, A still answered`;
      },
    },
    close: {
      next: `\`${logs("disconnect")}\``,
      run: async () => {
        const { a, b } = connected(clients);
        const [closedA, closedB] = await Promise.all([a.close(timeoutMs), b.close(timeoutMs)]);
        for (const [label, closure] of [
          ["A", closedA],
          ["B", closedB],
        ] as const) {
          if (closure.code !== 1000) {
            throw new ExpectationError(
              `client ${label} to close normally (code 1000)`,
              `it closed with code ${closure.code}${closure.reason === "" ? "" : ` "${closure.reason}"`}`,
            );
          }
        }
        if (!checkRegistry) return "both closed with 1000";
        const remaining = await registrySettled(outputs, registered, timeoutMs);
        return `both closed with 1000, registry ${remaining === 0 ? "empty again" : `back to ${remaining} (others' connections)`}`;
      },
    },
  };

  let failed = false;
  try {
    for (const [index, step] of SMOKE_STEPS.entries()) {
      const base = { number: index + 1, name: step.name, title: step.title };
      let result: StepResult;
      const exclusion = excluded[step.name];
      if (failed) {
        result = { ...base, status: "skipped", durationMs: 0, detail: "an earlier step failed" };
      } else if (exclusion !== undefined) {
        result = { ...base, status: "skipped", durationMs: 0, detail: exclusion };
      } else {
        const stepStarted = performance.now();
        try {
          const detail = await bodies[step.name].run();
          result = { ...base, status: "passed", durationMs: since(stepStarted), detail };
        } catch (error) {
          failed = true;
          const failure = describeFailure(step.title, error, bodies[step.name].next);
          result = {
            ...base,
            status: "failed",
            durationMs: since(stepStarted),
            detail: failure.received,
            failure,
          };
        }
      }
      steps.push(result);
      options.onStep?.(result);
    }
  } finally {
    const open = clients as Clients | undefined;
    if (open !== undefined) await Promise.all([open.a.close(timeoutMs), open.b.close(timeoutMs)]);
  }
  return {
    stage: outputs.stage,
    websocketUrl: outputs.websocketUrl,
    passed: !failed,
    durationMs: since(started),
    timeoutMs,
    steps,
    latencies,
  };
}

/** Not JSON: routed to $default, whose answer must be an error frame. */
export const MALFORMED_FRAME = '{"action":"broadcast","message":';

async function connectBoth(url: string, timeoutMs: number): Promise<Clients> {
  const [a, b] = await Promise.allSettled([
    TestClient.connect(url, { timeoutMs }),
    TestClient.connect(url, { timeoutMs }),
  ]);
  if (a.status === "fulfilled" && b.status === "fulfilled") return { a: a.value, b: b.value };
  await Promise.all(
    [a, b].map((r) => (r.status === "fulfilled" ? r.value.close(timeoutMs) : undefined)),
  );
  throw (a.status === "rejected" ? a.reason : (b as PromiseRejectedResult).reason) as Error;
}

function connected(clients: Clients | undefined): Clients {
  if (clients === undefined) throw new Error("the clients are not connected");
  return clients;
}

interface EchoReply {
  readonly nonce: string;
  readonly connectionId: string;
  readonly ms: number;
}

/** The client echoes a nonce and waits for its reply, which names its connection id. */
async function echoAndReceive(
  label: string,
  client: TestClient,
  timeoutMs: number,
): Promise<EchoReply> {
  const nonce = `smoke-echo-${randomUUID()}`;
  const frame = JSON.stringify({ action: "echo", message: nonce });
  const sent = performance.now();
  client.send(frame);
  const received = await client.next((f) => f.data.includes(nonce), {
    timeoutMs,
    expected: `client ${label} to receive {"message":"${nonce}","connectionId":…} after sending ${frame}`,
  });
  const connectionId = echoReplyOf(received.data, nonce);
  if (connectionId === undefined) {
    throw new ExpectationError(
      `client ${label} to receive {"message":"${nonce}","connectionId":"<its id>"}`,
      `it received ${JSON.stringify(received.data)}`,
    );
  }
  return { nonce, connectionId, ms: received.at - sent };
}

async function broadcastAndReceive(
  a: TestClient,
  b: TestClient,
  timeoutMs: number,
): Promise<{ atA: number; atB: number }> {
  const nonce = `smoke-broadcast-${randomUUID()}`;
  const frame = JSON.stringify({ action: "broadcast", message: nonce });
  const sent = performance.now();
  a.send(frame);
  const receive = async (label: string, client: TestClient): Promise<Frame> => {
    const received = await client.next((f) => f.data.includes(nonce), {
      timeoutMs,
      expected: `client ${label} to receive {"message":"${nonce}"} after A sent ${frame}`,
    });
    if (!isBroadcastOf(received.data, nonce)) {
      throw new ExpectationError(
        `client ${label} to receive {"message":"${nonce}"}`,
        `it received ${JSON.stringify(received.data)}`,
      );
    }
    return received;
  };
  const [toA, toB] = await Promise.all([receive("A", a), receive("B", b)]);
  return { atA: toA.at - sent, atB: toB.at - sent };
}

/** Waits until none of `ours` is left in the registry; returns how many keys remain. */
async function registrySettled(
  outputs: StageOutputs,
  ours: readonly string[],
  timeoutMs: number,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const keys = await registryKeys(outputs, { timeoutMs });
    const left = keys.filter((key) => ours.includes(key));
    if (left.length === 0) return keys.length;
    if (performance.now() >= deadline) {
      throw new ExpectationError(
        `the registry s3://${outputs.connectionsBucket}/${outputs.connectionsPrefix} to drop both connections within ${timeoutMs} ms of closing`,
        `it still holds ${left.length} of them (${left.join(", ")})`,
      );
    }
    await delay(REGISTRY_POLL_MS);
  }
}

function describeFailure(title: string, error: unknown, next: string): StepFailure {
  if (error instanceof ExpectationError) {
    return { expected: error.expected, received: error.received, next };
  }
  const message = error instanceof Error ? error.message : String(error);
  const received =
    error instanceof ExpectedError ? message : `an unexpected error (${describeError(error)})`;
  return { expected: title, received, next };
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function delay(milliseconds: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), milliseconds));
}

function since(start: number): number {
  return performance.now() - start;
}

export function ms(value: number): string {
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
}
