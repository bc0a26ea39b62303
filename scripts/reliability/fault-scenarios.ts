import pLimit from "p-limit";
import {
  FAULT_KINDS,
  type FaultInjector,
  type FaultKind,
  type FaultPlan,
} from "../local/faults.js";
import type { LocalLogEntry } from "../local/local-log.js";
import { RecordingClient } from "./client.js";
import type { LogWatch } from "./log-watch.js";
import type { StageAccess } from "./stage-access.js";

/**
 * Fault injection with accounting, on a running local stage whose injector is re-armed per
 * scenario. Every scenario sends messages with unique ids (SNS publishes and client broadcasts),
 * turns the faults off, and ends with a closing SNS message that must reach every client still
 * connected (the positive control). Then, for every client still connected, each id meant for
 * everyone must have arrived exactly once and each id refused to its sender not at all; the
 * registry must hold exactly the connected clients, once every $disconnect has run.
 */

export interface FaultScenarioOptions {
  readonly url: string;
  /** Connections each scenario starts with. */
  readonly clients: number;
  /** Messages the delivery scenarios send. */
  readonly messages: number;
  /** Connections opened at once. */
  readonly connectConcurrency: number;
  readonly injector: FaultInjector;
  readonly access: StageAccess;
  readonly log: LogWatch;
  /** Resolves once every closed connection's $disconnect has finished. */
  readonly disconnectsSettled: () => Promise<void>;
  readonly onProgress?: (line: string) => void;
}

export interface ScenarioResult {
  readonly name: string;
  /** Faults injected during the scenario, by kind (kinds with none left out). */
  readonly injected: Partial<Record<FaultKind, number>>;
  /** Messages sent that every connected client had to receive. */
  readonly sent: number;
  /** Messages sent that the stage refused to their sender: nobody may receive them. */
  readonly refused: number;
  readonly expected: number;
  readonly received: number;
  readonly lost: number;
  readonly duplicated: number;
  /** What did not hold; empty when the scenario passed. */
  readonly problems: readonly string[];
}

export interface FaultReport {
  readonly scenarios: readonly ScenarioResult[];
  readonly injected: Readonly<Record<FaultKind, number>>;
  readonly sent: number;
  readonly expected: number;
  readonly received: number;
  readonly lost: number;
  readonly duplicated: number;
}

/** How long delivery may make no progress before what is missing counts as lost. */
const STALL_MS = 60_000;

const ID_PATTERN = /fault-\d+-\d+/g;

interface Member {
  readonly client: RecordingClient;
  readonly connectionId: string;
}

function idsIn(frame: Buffer): string[] {
  return frame.toString("utf8").match(ID_PATTERN) ?? [];
}

function isErrorFrame(frame: Buffer, code: string): boolean {
  try {
    const value = JSON.parse(frame.toString("utf8")) as { error?: { code?: unknown } };
    return value.error?.code === code;
  } catch {
    return false;
  }
}

/** API Gateway's answer to a frame whose integration failed (threw or timed out). */
function isIntegrationFailure(frame: Buffer): boolean {
  try {
    const value = JSON.parse(frame.toString("utf8")) as { message?: unknown };
    return value.message === "Internal server error";
  } catch {
    return false;
  }
}

function difference(
  after: Readonly<Record<FaultKind, number>>,
  before: Readonly<Record<FaultKind, number>>,
): Partial<Record<FaultKind, number>> {
  const injected: Partial<Record<FaultKind, number>> = {};
  for (const kind of FAULT_KINDS) {
    const count = after[kind] - before[kind];
    if (count > 0) injected[kind] = count;
  }
  return injected;
}

const isInvocation =
  (fn: string, result?: "ok" | "error" | "timeout") =>
  (entry: LocalLogEntry): boolean =>
    entry.type === "invocation" &&
    entry.function === fn &&
    (result === undefined || entry.result === result);

export async function runFaultScenarios(options: FaultScenarioOptions): Promise<FaultReport> {
  const { injector, access, log } = options;
  const run = Date.now();
  let nextId = 0;
  const newId = () => `fault-${run}-${nextId++}`;
  const progress = options.onProgress ?? (() => {});

  /** Opens a client and learns its connection id from an echo. */
  const join = async (): Promise<Member> => {
    const client = await RecordingClient.open(options.url);
    const marker = `who-${run}-${nextId++}`;
    client.send(Buffer.from(JSON.stringify({ action: "echo", message: marker })), false);
    let connectionId: string | undefined;
    await client.until(() => {
      for (const frame of client.received) {
        const text = frame.toString("utf8");
        if (!text.includes(marker)) continue;
        connectionId = (JSON.parse(text) as { connectionId?: string }).connectionId;
        return true;
      }
      return false;
    }, STALL_MS);
    if (connectionId === undefined) throw new Error("A fault scenario's client got no echo.");
    return { client, connectionId };
  };
  const open = pLimit(options.connectConcurrency);
  const gather = (count: number) => Promise.all(Array.from({ length: count }, () => open(join)));

  /** Sends `id` from SNS (even turns) or as a broadcast from a connected member (odd turns). */
  const send = async (id: string, turn: number, members: readonly Member[]) => {
    const connected = members.filter((m) => m.client.closeCode === undefined);
    if (turn % 2 === 0 || connected.length === 0) {
      await access.publish(JSON.stringify({ id }));
      return;
    }
    const sender = connected[(turn * 7919) % connected.length] as Member;
    sender.client.send(
      Buffer.from(JSON.stringify({ action: "broadcast", message: { id } })),
      false,
    );
  };

  /**
   * Waits for every connected member to hold every id in `everyone` and the closing message, then
   * counts. Faults must be off: the closing message is the positive control.
   */
  const account = async (
    name: string,
    members: readonly Member[],
    everyone: readonly string[],
    refused: readonly string[],
    before: Readonly<Record<FaultKind, number>>,
    problems: string[],
  ): Promise<ScenarioResult> => {
    const closing = newId();
    const wanted = [...everyone, closing];
    const holds = (member: Member) => {
      const got = new Set(member.client.received.flatMap(idsIn));
      return wanted.every((id) => got.has(id));
    };
    await access.publish(JSON.stringify({ id: closing }));
    await Promise.all(
      members.map((member) =>
        member.client.until(() => member.client.closeCode !== undefined || holds(member), STALL_MS),
      ),
    );
    const connected = members.filter((m) => m.client.closeCode === undefined);
    let received = 0;
    let lost = 0;
    let duplicated = 0;
    for (const member of connected) {
      const counts = new Map<string, number>();
      for (const id of member.client.received.flatMap(idsIn)) {
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      if ((counts.get(closing) ?? 0) === 0) {
        problems.push("the closing message (faults off) did not reach every connected client");
      }
      for (const id of everyone) {
        const count = counts.get(id) ?? 0;
        received += count;
        if (count === 0) lost += 1;
        if (count > 1) duplicated += count - 1;
      }
      const leaked = refused.filter((id) => counts.has(id)).length;
      if (leaked > 0) problems.push(`${leaked} refused messages reached a client anyway`);
    }
    await options.disconnectsSettled();
    const registered = await access.registered();
    const live = new Set(connected.map((m) => m.connectionId));
    const stale = [...registered].filter((id) => !live.has(id)).length;
    const missing = [...live].filter((id) => !registered.has(id)).length;
    if (stale > 0) problems.push(`${stale} registry entries for connections that are gone`);
    if (missing > 0) problems.push(`${missing} connected clients missing from the registry`);
    if (lost > 0) problems.push(`${lost} messages lost`);
    if (duplicated > 0) problems.push(`${duplicated} messages duplicated`);
    const injected = difference(injector.injected(), before);
    if (Object.keys(injected).length === 0) problems.push("no fault was injected");
    progress(`faults: ${name}: ${problems.length === 0 ? "pass" : problems.join("; ")}`);
    return {
      name,
      injected,
      sent: everyone.length,
      refused: refused.length,
      expected: connected.length * everyone.length,
      received,
      lost,
      duplicated,
      problems: [...new Set(problems)],
    };
  };

  /** Sends `count` messages with `plan` armed (re-armed before each when `perMessage`). */
  const deliveryScenario = async (
    name: string,
    plan: FaultPlan,
    perMessage: boolean,
    expect: (injected: Partial<Record<FaultKind, number>>, dropped: number) => string[],
  ): Promise<ScenarioResult> => {
    const members = await gather(options.clients);
    const before = injector.injected();
    const ids: string[] = [];
    injector.arm(plan);
    for (let turn = 0; turn < options.messages; turn++) {
      const id = newId();
      ids.push(id);
      if (perMessage) injector.arm(plan);
      await send(id, turn, members);
      if (perMessage) {
        // One burst per message: the next is armed once this one has been delivered.
        await Promise.all(
          members.map((m) =>
            m.client.until(
              () =>
                m.client.closeCode !== undefined || m.client.received.flatMap(idsIn).includes(id),
              STALL_MS,
            ),
          ),
        );
      }
    }
    // Delivered to every connected client or still on its way: wait for the ids, then turn off.
    await Promise.all(
      members.map((m) =>
        m.client.until(() => {
          if (m.client.closeCode !== undefined) return true;
          const got = new Set(m.client.received.flatMap(idsIn));
          return ids.every((id) => got.has(id));
        }, STALL_MS),
      ),
    );
    injector.arm({});
    const dropped = members.filter((m) => m.client.closeCode !== undefined).length;
    const problems = expect(difference(injector.injected(), before), dropped);
    const result = await account(name, members, ids, [], before, problems);
    await leave(members);
    return result;
  };

  const leave = async (members: readonly Member[]) => {
    await Promise.all(
      members.map(async (m) => {
        if (m.client.closeCode !== undefined) return;
        m.client.socket.close(1000);
        await m.client.until(() => m.client.closeCode !== undefined, STALL_MS);
      }),
    );
    await options.disconnectsSettled();
  };

  /** A broadcast the stage must refuse to its sender alone, with `answer` the sender gets. */
  const refusedBroadcast = async (
    name: string,
    plan: FaultPlan,
    answer: (frame: Buffer) => boolean,
    answerName: string,
  ): Promise<ScenarioResult> => {
    const members = await gather(Math.min(options.clients, 10));
    const [sender] = members as [Member];
    const before = injector.injected();
    const problems: string[] = [];
    const id = newId();
    injector.arm(plan);
    sender.client.send(
      Buffer.from(JSON.stringify({ action: "broadcast", message: { id } })),
      false,
    );
    const answered = await sender.client.until(() => sender.client.received.some(answer), STALL_MS);
    injector.arm({});
    if (!answered) problems.push(`the sender got no ${answerName}`);
    const result = await account(name, members, [], [id], before, problems);
    await leave(members);
    return result;
  };

  /** An SNS message whose first subscriber attempt fails: Lambda's retry must deliver it. */
  const retriedPublish = async (
    name: string,
    plan: FaultPlan,
    failure: "error" | "timeout",
    turnOff: "after the failure" | "by its limit",
  ): Promise<ScenarioResult> => {
    const members = await gather(options.clients);
    const before = injector.injected();
    const problems: string[] = [];
    const id = newId();
    const failed = log.next(isInvocation("subscriber", failure), STALL_MS);
    const retried = log.next(
      (entry) =>
        isInvocation("subscriber", "ok")(entry) &&
        entry.type === "invocation" &&
        (entry.attempt ?? 1) > 1,
      STALL_MS,
    );
    injector.arm(plan);
    await access.publish(JSON.stringify({ id }));
    if ((await failed) === undefined) problems.push(`no subscriber attempt ended in ${failure}`);
    if (turnOff === "after the failure") injector.arm({});
    if ((await retried) === undefined)
      problems.push("Lambda's retry of the subscriber never succeeded");
    injector.arm({});
    const result = await account(name, members, [id], [], before, problems);
    await leave(members);
    return result;
  };

  const scenarios: ScenarioResult[] = [];
  const injectedAtStart = injector.injected();
  const clients = options.clients;
  /** Runs a scenario; one that throws is a failed scenario, and the faults are turned off. */
  const guarded = async (name: string, scenario: (name: string) => Promise<ScenarioResult>) => {
    const before = injector.injected();
    try {
      scenarios.push(await scenario(name));
    } catch (error) {
      injector.arm({});
      scenarios.push({
        name,
        injected: difference(injector.injected(), before),
        sent: 0,
        refused: 0,
        expected: 0,
        received: 0,
        lost: 0,
        duplicated: 0,
        problems: [`it failed: ${error instanceof Error ? error.message : String(error)}`],
      });
    }
  };

  await guarded("@connections answers 410 Gone to 10% of posts", (name) =>
    deliveryScenario(name, { gone: 0.1 }, false, (injected, dropped) =>
      // Two posts to one connection may both draw Gone before its drop is noticed.
      dropped > 0 && dropped <= (injected.gone ?? 0)
        ? []
        : [`${injected.gone ?? 0} posts answered Gone but ${dropped} clients dropped`],
    ),
  );
  const burst = Math.max(1, Math.floor(clients / 4));
  await guarded(
    `@connections answers a burst of ${burst} 429s then ${burst} 500s per message`,
    (name) =>
      deliveryScenario(
        name,
        { throttle: 1, error: 1, limits: { throttle: burst, error: burst } },
        true,
        (injected) =>
          injected.throttle === burst * options.messages &&
          injected.error === burst * options.messages
            ? []
            : [
                `expected ${burst * options.messages} 429s and 500s, injected ${JSON.stringify(injected)}`,
              ],
      ),
  );
  await guarded("@connections answers 250 ms late", (name) =>
    deliveryScenario(name, { slow: 250 }, false, () => []),
  );

  // S3 failing on PutObject during $connect: refused cleanly, nothing half-registered.
  const refusedConnects = async (name: string): Promise<ScenarioResult> => {
    const members = await gather(Math.min(clients, 10));
    const before = injector.injected();
    const problems: string[] = [];
    const attempts = 3;
    const rejected = log.collect(
      (entry) => entry.type === "gateway" && entry.event === "rejected",
      attempts,
      STALL_MS,
    );
    injector.arm({ s3: 1 });
    const outcomes = await Promise.allSettled(
      Array.from({ length: attempts }, () => RecordingClient.open(options.url)),
    );
    injector.arm({});
    const accepted = outcomes.filter((o) => o.status === "fulfilled").length;
    if (accepted > 0) problems.push(`${accepted} of ${attempts} connections were accepted`);
    for (const o of outcomes) if (o.status === "fulfilled") o.value.socket.close();
    const refusedIds = new Set(
      (await rejected).flatMap((entry) => (entry.type === "gateway" ? [entry.connectionId] : [])),
    );
    if (refusedIds.size !== attempts) {
      problems.push(`the gateway logged ${refusedIds.size} of ${attempts} refused handshakes`);
    }
    const registered = await access.registered();
    const halfRegistered = [...refusedIds].filter((id) => registered.has(id)).length;
    if (halfRegistered > 0) problems.push(`${halfRegistered} refused connections are registered`);
    // The positive control: with S3 back, a connection is accepted and registered.
    const control = await join();
    members.push(control);
    // account() also finds the control in the registry, or names it missing.
    const result = await account(name, members, [], [], before, problems);
    await leave(members);
    return result;
  };
  await guarded("S3 answers 503 to PutObject: $connect refused", refusedConnects);

  // S3 failing on ListObjectsV2: an SNS message is retried by Lambda, a client broadcast refused.
  await guarded("S3 answers 503 to ListObjectsV2 during an SNS fan-out", (name) =>
    retriedPublish(name, { s3: 1 }, "error", "after the failure"),
  );
  await guarded("S3 answers 503 to ListObjectsV2 during a client broadcast", (name) =>
    refusedBroadcast(
      name,
      { s3: 1 },
      (frame) => isErrorFrame(frame, "delivery_failed"),
      "error frame saying the message was not delivered",
    ),
  );

  // S3 failing on DeleteObject during $disconnect: the entries stay until a fan-out meets them Gone.
  const staleAfterDisconnect = async (name: string): Promise<ScenarioResult> => {
    const members = await gather(clients);
    const doomed = members.slice(0, Math.max(1, Math.floor(clients / 5)));
    const before = injector.injected();
    const problems: string[] = [];
    const disconnects = log.collect(isInvocation("disconnect"), doomed.length, STALL_MS);
    injector.arm({ s3: 1 });
    for (const m of doomed) m.client.socket.terminate();
    const ran = await disconnects;
    injector.arm({});
    if (ran.length < doomed.length)
      problems.push(`${doomed.length - ran.length} $disconnects never ran`);
    const registered = await access.registered();
    const kept = doomed.filter((m) => registered.has(m.connectionId)).length;
    // The positive control: the fault did hit, the killed clients are still registered.
    if (kept !== doomed.length) {
      problems.push(
        `${doomed.length - kept} killed clients were removed although S3 refused the delete`,
      );
    }
    const ids = [newId(), newId()];
    for (const [turn, id] of ids.entries()) await send(id, turn, members);
    const result = await account(name, members, ids, [], before, problems);
    await leave(members);
    return result;
  };
  await guarded("S3 answers 503 to DeleteObject during $disconnect", staleAfterDisconnect);

  // A function that throws or times out.
  await guarded("the message function throws", (name) =>
    refusedBroadcast(name, { throws: 1 }, isIntegrationFailure, '"Internal server error" frame'),
  );
  await guarded("the message function times out", (name) =>
    refusedBroadcast(name, { timeout: 1 }, isIntegrationFailure, '"Internal server error" frame'),
  );
  await guarded("the subscriber throws once", (name) =>
    retriedPublish(name, { throws: 1, limits: { throws: 1 } }, "error", "by its limit"),
  );
  await guarded("the subscriber times out once", (name) =>
    retriedPublish(name, { timeout: 1, limits: { timeout: 1 } }, "timeout", "by its limit"),
  );

  const sum = (key: "sent" | "expected" | "received" | "lost" | "duplicated") =>
    scenarios.reduce((total, s) => total + s[key], 0);
  const after = injector.injected();
  const injected = Object.fromEntries(
    FAULT_KINDS.map((kind) => [kind, after[kind] - injectedAtStart[kind]]),
  ) as Record<FaultKind, number>;
  return {
    scenarios,
    injected,
    sent: sum("sent"),
    expected: sum("expected"),
    received: sum("received"),
    lost: sum("lost"),
    duplicated: sum("duplicated"),
  };
}
