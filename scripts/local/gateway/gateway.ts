import type { IncomingMessage } from "node:http";
import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer } from "ws";
import { CLOSE_CODES, LIMITS, ROUTE_KEYS } from "../../../functions/contract.js";
import type { Invoker } from "../lambda/invoker.js";
import type { LocalLog } from "../local-log.js";
import type { ConnectionDirectory, ManagedConnection } from "./connections.js";
import {
  type ApiInfo,
  type ConnectionInfo,
  connectEvent,
  disconnectEvent,
  type GatewayEvent,
  messageEvent,
  newConnectionId,
} from "./events.js";
import { FrameLimit } from "./frame-limit.js";
import { handshakeRefusal } from "./handshake.js";
import { routeFunction, selectRoute } from "./route-selection.js";

/**
 * The WebSocket side of API Gateway: runs $connect before the handshake completes (a non-2xx or a
 * failure refuses it with that HTTP status), routes every message by the contract's route selection,
 * runs $disconnect with the close code, enforces the frame and message size limits (1009), the idle timeout and the
 * maximum connection duration (1001).
 */

export interface GatewayOptions {
  readonly api: ApiInfo;
  readonly invoker: Pick<Invoker, "invoke">;
  readonly log: LocalLog;
  readonly idleTimeoutMs: number;
  readonly maxConnectionMs: number;
}

/** Bytes a client may leave unread before posts to it are throttled (429). */
const CLIENT_BUFFER_BYTES = 4 * 1024 * 1024;
/**
 * Longest a shutdown waits for $disconnect invocations: as long as one may run, since a stop that
 * cut them short would leave their connections in the registry. A second Ctrl-C skips the wait.
 */
const DRAIN_MS = LIMITS.integrationTimeoutMs;

class Connection implements ManagedConnection, ConnectionInfo {
  lastActiveAt: number;
  /**
   * The code of a close the gateway started: API Gateway reports it to $disconnect even when the
   * client never answers the close frame (ws would report 1006).
   */
  closeCode: number | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly connectionId: string,
    readonly connectedAt: number,
    readonly sourceIp: string,
    readonly userAgent: string | undefined,
    readonly socket: WebSocket,
    private readonly idleTimeoutMs: number,
    maxConnectionMs: number,
  ) {
    this.lastActiveAt = Date.now();
    this.timers.push(setTimeout(() => this.goAway(), maxConnectionMs));
    this.touch();
  }

  touch(): void {
    this.lastActiveAt = Date.now();
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.goAway(), this.idleTimeoutMs);
  }

  post(data: Buffer): boolean {
    if (this.socket.readyState !== WebSocket.OPEN) return true;
    if (this.socket.bufferedAmount > CLIENT_BUFFER_BYTES) return false;
    this.socket.send(data, { binary: !isUtf8(data) });
    this.touch();
    return true;
  }

  disconnect(): void {
    this.closeCode ??= 1000;
    this.socket.close(1000);
  }

  drop(): void {
    this.closeCode ??= 1006;
    this.socket.terminate();
  }

  goAway(): void {
    this.closeCode ??= CLOSE_CODES.goingAway;
    this.socket.close(CLOSE_CODES.goingAway, "Going away");
  }

  stopTimers(): void {
    clearTimeout(this.idleTimer);
    for (const timer of this.timers) clearTimeout(timer);
  }
}

function isUtf8(data: Buffer): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(data);
    return true;
  } catch {
    return false;
  }
}

function refuse(
  socket: Duplex,
  status: number,
  message: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  const body = JSON.stringify({ message });
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("");
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\nConnection: close\r\n${extra}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

export class Gateway implements ConnectionDirectory {
  private readonly server = new WebSocketServer({
    noServer: true,
    maxPayload: LIMITS.messageBytes,
  });
  private readonly open = new Map<string, Connection>();
  private readonly pending = new Set<Promise<unknown>>();
  private closing = false;
  /** Called whenever a connection or a tracked piece of work ends (close() waits on it). */
  private changed: (() => void) | undefined;

  constructor(private readonly options: GatewayOptions) {}

  connection(connectionId: string): ManagedConnection | undefined {
    return this.open.get(connectionId);
  }

  /** The HTTP server's `upgrade` listener. */
  readonly upgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    this.track(this.handshake(request, socket, head));
  };

  /** Closes every connection with 1001 and waits (briefly) for their $disconnect. */
  async close(): Promise<void> {
    this.closing = true;
    for (const connection of this.open.values()) connection.goAway();
    // Each close and each finished $disconnect calls `changed`: wait on those, not on a clock.
    const drained = () => this.open.size === 0 && this.pending.size === 0;
    if (!drained()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, DRAIN_MS);
        this.changed = () => {
          if (!drained()) return;
          clearTimeout(timer);
          resolve();
        };
      });
      this.changed = undefined;
    }
    for (const connection of this.open.values()) connection.socket.terminate();
    this.server.close();
  }

  private track(work: Promise<unknown>): void {
    this.pending.add(work);
    void work.finally(() => {
      this.pending.delete(work);
      this.changed?.();
    });
  }

  private async handshake(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { api } = this.options;
    const path = new URL(request.url ?? "/", "http://gateway.local").pathname;
    if (this.closing) return refuse(socket, 503, "The local stage is shutting down");
    if (path !== `/${api.stage}` && path !== `/${api.stage}/`) {
      return refuse(socket, 403, `Forbidden: connect to /${api.stage}`);
    }
    const refusal = handshakeRefusal(request);
    if (refusal !== undefined) {
      return refuse(socket, refusal.status, refusal.message, refusal.headers);
    }
    const info: ConnectionInfo = {
      connectionId: newConnectionId(),
      connectedAt: Date.now(),
      sourceIp: request.socket.remoteAddress?.replace(/^::ffff:/, "") ?? "127.0.0.1",
      ...(request.headers["user-agent"] === undefined
        ? {}
        : { userAgent: request.headers["user-agent"] }),
    };
    let socketClosed = false;
    const markClosed = () => {
      socketClosed = true;
    };
    socket.once("close", markClosed);
    // Node's HTTP server stops listening for socket errors at the upgrade, and ws starts only
    // once handleUpgrade runs: a client resetting the connection during $connect would crash us.
    socket.on("error", markClosed);
    const status = await this.connectStatus(info, request);
    if (status < 200 || status > 299) {
      this.options.log.write({
        type: "gateway",
        event: "rejected",
        connectionId: info.connectionId,
        code: status,
      });
      return refuse(socket, status, STATUS_CODES[status] ?? "Error");
    }
    if (socketClosed || this.closing) {
      // The client left while $connect ran: API Gateway still reports the disconnect.
      await this.runDisconnect(info, 1006, "");
      socket.destroy();
      return;
    }
    this.server.handleUpgrade(request, socket, head, (ws) => this.accept(info, ws, socket));
  }

  private async connectStatus(info: ConnectionInfo, request: IncomingMessage): Promise<number> {
    const fn = routeFunction(ROUTE_KEYS.connect);
    if (fn === undefined) return 200;
    const outcome = await this.options.invoker.invoke(
      fn,
      connectEvent(this.options.api, info, request),
      {
        trigger: ROUTE_KEYS.connect,
        connectionId: info.connectionId,
        timeoutMs: LIMITS.integrationTimeoutMs,
      },
    );
    if (!outcome.ok) return 500;
    const statusCode = (outcome.result as { statusCode?: unknown } | null | undefined)?.statusCode;
    return typeof statusCode === "number" ? statusCode : 200;
  }

  private accept(info: ConnectionInfo, socket: WebSocket, raw: Duplex): void {
    const connection = new Connection(
      info.connectionId,
      info.connectedAt,
      info.sourceIp,
      info.userAgent,
      socket,
      this.options.idleTimeoutMs,
      this.options.maxConnectionMs,
    );
    this.open.set(info.connectionId, connection);
    this.options.log.write({
      type: "gateway",
      event: "connected",
      connectionId: info.connectionId,
    });
    /** Messages ws may still deliver: those wholly before an oversized frame. */
    let deliverable = Number.POSITIVE_INFINITY;
    let received = 0;
    const frameLimit = new FrameLimit(LIMITS.frameBytes, (_frameBytes, messagesBefore) => {
      deliverable = messagesBefore;
      connection.closeCode ??= CLOSE_CODES.messageTooBig;
      socket.close(CLOSE_CODES.messageTooBig, "Message too big");
    });
    // Ahead of ws's own listener, so an oversized frame is flagged before ws can deliver it.
    raw.prependListener("data", (chunk: Buffer) => frameLimit.push(chunk));
    socket.on("message", (data: Buffer, isBinary) => {
      received += 1;
      if (received > deliverable) return;
      connection.touch();
      this.track(this.route(connection, data, isBinary));
    });
    socket.on("ping", () => connection.touch());
    socket.on("error", (error: Error & { code?: string }) => {
      // ws has already sent the close frame; remember its code for $disconnect.
      if (error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") {
        connection.closeCode ??= CLOSE_CODES.messageTooBig;
      }
    });
    socket.on("close", (received, reason) => {
      const code = connection.closeCode ?? received;
      connection.stopTimers();
      this.open.delete(info.connectionId);
      const reasonText = reason.toString("utf8");
      this.options.log.write({
        type: "gateway",
        event: "closed",
        connectionId: info.connectionId,
        code,
        ...(reasonText === "" ? {} : { reason: reasonText }),
      });
      // Tracked before close() hears of the change, or it could see nothing pending and stop the
      // functions while this $disconnect is on its way to one.
      this.track(this.runDisconnect(info, code, reasonText));
      this.changed?.();
    });
  }

  private async route(connection: Connection, data: Buffer, isBinary: boolean): Promise<void> {
    const routeKey = selectRoute(data, isBinary);
    const fn = routeKey === undefined ? undefined : routeFunction(routeKey);
    const event: GatewayEvent = messageEvent(
      this.options.api,
      connection,
      routeKey ?? "$default",
      data,
      isBinary,
    );
    const reply = (message: string) =>
      connection.post(
        Buffer.from(
          JSON.stringify({
            message,
            connectionId: connection.connectionId,
            requestId: event.requestContext.requestId,
          }),
        ),
      );
    if (routeKey === undefined || fn === undefined) {
      reply("Forbidden");
      return;
    }
    const outcome = await this.options.invoker.invoke(fn, event, {
      trigger: routeKey,
      connectionId: connection.connectionId,
      timeoutMs: LIMITS.integrationTimeoutMs,
    });
    if (!outcome.ok) reply("Internal server error");
  }

  private async runDisconnect(info: ConnectionInfo, code: number, reason: string): Promise<void> {
    const fn = routeFunction(ROUTE_KEYS.disconnect);
    if (fn === undefined) return;
    await this.options.invoker.invoke(fn, disconnectEvent(this.options.api, info, code, reason), {
      trigger: ROUTE_KEYS.disconnect,
      connectionId: info.connectionId,
      timeoutMs: LIMITS.integrationTimeoutMs,
    });
  }
}
