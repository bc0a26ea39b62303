import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { ConnectError, ExpectationError, TestClient } from "./client.js";

let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer();
  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (request, socket, head) => {
    if (request.url === "/refuse") {
      socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nForbidden");
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      ws.on("message", (data) => {
        const text = String(data);
        if (text === "bye") ws.close(4000, "asked to leave");
        else if (text.startsWith("twice:")) {
          ws.send(`${text.slice(6)}-1`);
          ws.send(`${text.slice(6)}-2`);
        } else ws.send(`echo:${text}`);
      });
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
});

describe("TestClient", () => {
  it("connects, measures the handshake and receives the frame it waits for", async () => {
    const client = await TestClient.connect(`${url}/ok`, { timeoutMs: 2000 });
    expect(client.handshakeStatus).toBe(101);
    expect(client.connectMs).toBeGreaterThan(0);
    client.send("hello");
    const frame = await client.next((f) => f.data.startsWith("echo:"), {
      timeoutMs: 2000,
      expected: "an echo",
    });
    expect(frame.data).toBe("echo:hello");
    expect(await client.close(2000)).toEqual({ code: 1000, reason: "done" });
  });

  it("consumes frames in order, so the same frame is not returned twice", async () => {
    const client = await TestClient.connect(url, { timeoutMs: 2000 });
    client.send("twice:x");
    const any = { timeoutMs: 2000, expected: "a frame" };
    expect((await client.next(() => true, any)).data).toBe("x-1");
    expect((await client.next(() => true, any)).data).toBe("x-2");
    await client.close(2000);
  });

  it("names what was expected and what came when a wait times out", async () => {
    const client = await TestClient.connect(url, { timeoutMs: 2000 });
    client.send("ping");
    const wait = client.next((f) => f.data === "pong", { timeoutMs: 200, expected: "a pong" });
    await expect(wait).rejects.toBeInstanceOf(ExpectationError);
    await expect(wait).rejects.toMatchObject({
      expected: "a pong",
      received: 'within 200 ms 1 frame arrived: "echo:ping"',
    });
    await client.close(2000);
  });

  it("fails a wait at once when the connection closes", async () => {
    const client = await TestClient.connect(url, { timeoutMs: 2000 });
    client.send("bye");
    const started = performance.now();
    await expect(
      client.next(() => true, { timeoutMs: 5000, expected: "a frame" }),
    ).rejects.toMatchObject({
      received: 'the connection closed (code 4000, "asked to leave"); nothing arrived',
    });
    expect(performance.now() - started).toBeLessThan(4000);
    expect(() => client.send("more")).toThrow(/closed \(code 4000/);
  });

  it("reports a rejected handshake with its HTTP status", async () => {
    await expect(TestClient.connect(`${url}/refuse`, { timeoutMs: 2000 })).rejects.toThrow(
      new ConnectError(`The handshake with ${url}/refuse was rejected: HTTP 403 "Forbidden".`),
    );
  });

  it("reports a port where nothing listens", async () => {
    const idle = createServer();
    idle.listen(0, "127.0.0.1");
    await once(idle, "listening");
    const port = (idle.address() as AddressInfo).port;
    idle.close();
    await once(idle, "close");
    await expect(TestClient.connect(`ws://127.0.0.1:${port}`, { timeoutMs: 2000 })).rejects.toThrow(
      /Nothing accepts connections at ws:\/\/127\.0\.0\.1:\d+ \(connection refused\)/,
    );
  });
});
