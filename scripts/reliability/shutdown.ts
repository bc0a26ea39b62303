import { once } from "node:events";
import { access, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pLimit from "p-limit";
import WebSocket from "ws";
import { CLOSE_CODES } from "../../functions/contract.js";
import type { LocalLogEntry } from "../local/local-log.js";
import { TerminalStage } from "./terminal-stage.js";

/**
 * How the stage ends connections, through `npm start` in a pseudo-terminal: the shortened idle
 * timeout and maximum connection duration (`--idle-timeout`, `--max-connection`) close with 1001
 * and run $disconnect; Ctrl-C, pressed while a fan-out is under way, closes every client with
 * 1001, runs every $disconnect and removes the state file.
 */

export interface TimeoutsReport {
  /** Close code of a client that stayed silent past the idle timeout. */
  readonly idleClosedWith: number | undefined;
  /** Close code of a client that kept talking until the maximum duration. */
  readonly maxDurationClosedWith: number | undefined;
  /** Frames the talking client had answered after the idle timeout (the positive control). */
  readonly answersPastIdle: number;
  /** $disconnect invocations that ran for the two (2 when all is well). */
  readonly disconnects: number;
}

export interface InterruptReport {
  readonly clients: number;
  /** Clients closed with 1001 Going away. */
  readonly closedGoingAway: number;
  readonly closeCodes: Readonly<Record<string, number>>;
  readonly connects: number;
  readonly disconnects: number;
  readonly stateFileLeft: boolean;
  /** How npm start ended: its exit code, or the signal that killed it. */
  readonly exit: string;
}

const START_MS = 60_000;
const IDLE_MS = 1_500;
const MAX_CONNECTION_MS = 5_000;

const LOG_ENTRY = (line: string) => JSON.parse(line) as LocalLogEntry;

async function logEntries(stateDir: string): Promise<LocalLogEntry[]> {
  const text = await readFile(join(stateDir, "local.log"), "utf8").catch(() => "");
  return text.trim() === "" ? [] : text.trim().split("\n").map(LOG_ENTRY);
}

const invocations = (entries: readonly LocalLogEntry[], fn: string) =>
  entries.filter((e) => e.type === "invocation" && e.function === fn && e.result === "ok");

async function open(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url, { perMessageDeflate: false });
  socket.on("error", () => {});
  await once(socket, "open");
  return socket;
}

/** The connection id the stage gives a socket, from an echo. */
async function connectionIdOf(socket: WebSocket): Promise<string> {
  const reply = once(socket, "message") as Promise<[Buffer]>;
  socket.send(JSON.stringify({ action: "echo", message: "who" }));
  const [data] = await reply;
  return (JSON.parse(data.toString("utf8")) as { connectionId: string }).connectionId;
}

export async function timeoutsScenario(distDir: string): Promise<TimeoutsReport> {
  const stateDir = await mkdtemp(join(tmpdir(), "reliability-timeouts-"));
  const { stage, outputs } = await TerminalStage.start(
    [
      "--dist-dir",
      distDir,
      "--idle-timeout",
      String(IDLE_MS),
      "--max-connection",
      String(MAX_CONNECTION_MS),
    ],
    stateDir,
    START_MS,
  );
  try {
    const idle = await open(outputs.websocketUrl);
    const talker = await open(outputs.websocketUrl);
    const idleId = await connectionIdOf(idle);
    const talkerId = await connectionIdOf(talker);
    const idleClosed = once(idle, "close") as Promise<[number, Buffer]>;
    const talkerClosed = once(talker, "close") as Promise<[number, Buffer]>;
    // The talker echoes again a moment after each answer: never silent for the idle timeout.
    let answersPastIdle = 0;
    const idleAt = performance.now() + IDLE_MS;
    talker.on("message", () => {
      if (performance.now() > idleAt) answersPastIdle += 1;
      setTimeout(() => {
        if (talker.readyState === WebSocket.OPEN) {
          talker.send(JSON.stringify({ action: "echo", message: "still here" }));
        }
      }, IDLE_MS / 5);
    });
    talker.send(JSON.stringify({ action: "echo", message: "still here" }));
    const [[idleCode], [talkerCode]] = await Promise.all([idleClosed, talkerClosed]);
    const disconnected = (id: string) =>
      stage.entry(
        (e) =>
          e.type === "invocation" &&
          e.function === "disconnect" &&
          e.connectionId === id &&
          e.result === "ok",
        START_MS,
      );
    const ran = await Promise.all([disconnected(idleId), disconnected(talkerId)]);
    return {
      idleClosedWith: idleCode,
      maxDurationClosedWith: talkerCode,
      answersPastIdle,
      disconnects: ran.filter((e) => e !== undefined).length,
    };
  } finally {
    stage.interrupt();
    await Promise.race([stage.exited, new Promise((r) => setTimeout(r, START_MS))]);
    stage.kill();
    await rm(stateDir, { recursive: true, force: true });
  }
}

export async function interruptScenario(
  distDir: string,
  clients: number,
): Promise<InterruptReport> {
  const stateDir = await mkdtemp(join(tmpdir(), "reliability-interrupt-"));
  const { stage, outputs } = await TerminalStage.start(["--dist-dir", distDir], stateDir, START_MS);
  try {
    const limit = pLimit(50);
    const sockets = await Promise.all(
      Array.from({ length: clients }, () => limit(() => open(outputs.websocketUrl))),
    );
    const closes = sockets.map((socket) => once(socket, "close") as Promise<[number, Buffer]>);
    // Ctrl-C while a fan-out is under way: the first client's broadcast has reached one client.
    const underWay = once(sockets[sockets.length - 1] as WebSocket, "message");
    (sockets[0] as WebSocket).send(JSON.stringify({ action: "broadcast", message: "bye" }));
    await underWay;
    stage.interrupt();
    const codes = (await Promise.all(closes)).map(([code]) => code);
    const [code, signal] = await stage.exited;
    const closeCodes: Record<string, number> = {};
    for (const c of codes) closeCodes[c] = (closeCodes[c] ?? 0) + 1;
    const entries = await logEntries(stateDir);
    const stateFileLeft = await access(join(stateDir, "local.json")).then(
      () => true,
      () => false,
    );
    return {
      clients,
      closedGoingAway: codes.filter((c) => c === CLOSE_CODES.goingAway).length,
      closeCodes,
      connects: invocations(entries, "connect").length,
      disconnects: invocations(entries, "disconnect").length,
      stateFileLeft,
      exit: signal === null ? `exit ${code}` : `killed by ${signal}`,
    };
  } finally {
    stage.kill();
    await rm(stateDir, { recursive: true, force: true });
  }
}

export function shutdownFailures(timeouts: TimeoutsReport, interrupt: InterruptReport): string[] {
  const failures: string[] = [];
  if (timeouts.idleClosedWith !== CLOSE_CODES.goingAway) {
    failures.push(`the idle timeout closed with ${timeouts.idleClosedWith}, not 1001`);
  }
  if (timeouts.maxDurationClosedWith !== CLOSE_CODES.goingAway) {
    failures.push(`the maximum duration closed with ${timeouts.maxDurationClosedWith}, not 1001`);
  }
  if (timeouts.answersPastIdle === 0) {
    failures.push("the talking client was not answered past the idle timeout");
  }
  if (timeouts.disconnects !== 2) {
    failures.push(`${2 - timeouts.disconnects} timed-out connections had no $disconnect`);
  }
  if (interrupt.closedGoingAway !== interrupt.clients) {
    failures.push(
      `Ctrl-C closed ${interrupt.clients - interrupt.closedGoingAway} clients without 1001 (${JSON.stringify(interrupt.closeCodes)})`,
    );
  }
  // The connects in the same log are the positive control: an empty log is not "all ran".
  if (interrupt.connects !== interrupt.clients) {
    failures.push(`the log shows ${interrupt.connects} of ${interrupt.clients} $connects`);
  }
  if (interrupt.disconnects !== interrupt.clients) {
    failures.push(`Ctrl-C ran ${interrupt.disconnects} of ${interrupt.clients} $disconnects`);
  }
  if (interrupt.stateFileLeft) failures.push("Ctrl-C left the state file behind");
  if (!["exit 0", "exit 130"].includes(interrupt.exit)) {
    failures.push(`npm start ended with ${interrupt.exit} on Ctrl-C`);
  }
  return failures;
}
