import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import {
  type AddressInfo,
  createServer as createTcpServer,
  type Socket,
  type Server as TcpServer,
} from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Http1Connections, NetworkError, type Request } from "./http1-connections.js";

/** The client against real servers on 127.0.0.1: node:http ones, and raw TCP ones for what node:http never sends. */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Held {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
}

/** A node:http server whose requests the test answers; counts the connections it accepted. */
async function httpServer(): Promise<{
  readonly url: URL;
  readonly sockets: Socket[];
  readonly paths: string[];
  /** The next request to arrive (or one that arrived unclaimed), body read. */
  next(): Promise<Held>;
}> {
  const arrived: Held[] = [];
  const waiters: ((held: Held) => void)[] = [];
  const sockets: Socket[] = [];
  const paths: string[] = [];
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      paths.push(request.url ?? "");
      const held = { request, response };
      const waiter = waiters.shift();
      if (waiter) waiter(held);
      else arrived.push(held);
    });
  });
  server.on("connection", (socket: Socket) => sockets.push(socket));
  await listen(server);
  cleanups.push(() => closeServer(server));
  return {
    url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    sockets,
    paths,
    next: () => {
      const held = arrived.shift();
      return held ? Promise.resolve(held) : new Promise((resolve) => waiters.push(resolve));
    },
  };
}

/** A TCP server that hands each connection to `onConnection` (for bytes node:http would never send). */
async function rawServer(onConnection: (socket: Socket) => void): Promise<URL> {
  const sockets: Socket[] = [];
  const server = createTcpServer((socket) => {
    sockets.push(socket);
    onConnection(socket);
  });
  await listen(server);
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

/** Answers the first request on each connection with `bytes`, once its head has arrived. */
const answering = (bytes: string | Buffer, then?: (socket: Socket) => void) => (socket: Socket) => {
  let seen = "";
  socket.on("data", (chunk: Buffer) => {
    seen += chunk.toString("latin1");
    if (!seen.includes("\r\n\r\n")) return;
    seen = "";
    socket.write(bytes);
    then?.(socket);
  });
};

async function listen(server: Server | TcpServer): Promise<void> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

function pool(url: URL, maxSockets = 2, ca?: string): Http1Connections {
  const connections = new Http1Connections(url, {
    maxSockets,
    discardsBodyOf: (status) => status === 202,
    ...(ca === undefined ? {} : { ca }),
  });
  cleanups.push(() => connections.close());
  return connections;
}

const get = (path: string, body: string | Buffer = ""): Request => ({
  method: "POST",
  path,
  headers: { "x-test": "1" },
  body,
});

/** The NetworkError `outcome` rejects with. */
const failureOf = (outcome: Promise<unknown>): Promise<NetworkError> =>
  outcome.then(
    (value) => {
      throw new Error(`expected a NetworkError, got an answer: ${JSON.stringify(value)}`);
    },
    (error: unknown) => {
      expect(error).toBeInstanceOf(NetworkError);
      return error as NetworkError;
    },
  );

describe("Http1Connections against node:http", () => {
  it("reuses one keep-alive connection for consecutive requests, and sends the head as given", async () => {
    const server = await httpServer();
    const connections = pool(server.url);
    for (const path of ["/a", "/b", "/c"]) {
      const answer = connections.request(get(path, "héllo"), 1_000, 1_000);
      const { request, response } = await server.next();
      expect(request.rawHeaders).toEqual([
        "x-test",
        "1",
        "host",
        server.url.host,
        "connection",
        "keep-alive",
        "content-length",
        "6",
      ]);
      response.writeHead(200, { "x-amzn-errortype": "Nope" }).end(path);
      expect((await answer).status).toBe(200);
      expect((await answer).headers.get("x-amzn-errortype")).toBe("Nope");
      expect((await answer).body.toString()).toBe(path);
    }
    expect(server.sockets).toHaveLength(1);
    expect(connections.openConnections).toBe(1);
  });

  it("says nothing of the length of a DELETE without a body, as Node's client; an empty POST says 0", async () => {
    const server = await httpServer();
    const connections = pool(server.url);
    const lengths: (string | undefined)[] = [];
    for (const method of ["DELETE", "POST"]) {
      const answer = connections.request(
        { method, path: "/k", headers: {}, body: "" },
        1_000,
        1_000,
      );
      const { request, response } = await server.next();
      lengths.push(request.headers["content-length"]);
      response.writeHead(204).end();
      expect((await answer).status).toBe(204);
    }
    expect(lengths).toEqual([undefined, "0"]);
  });

  it("opens at most maxSockets connections and serves the waiting requests first come, first served", async () => {
    const server = await httpServer();
    const connections = pool(server.url, 2);
    const answers = [1, 2, 3, 4, 5].map((i) => connections.request(get(`/${i}`), 1_000, 5_000));
    const first = [await server.next(), await server.next()];
    expect(server.sockets).toHaveLength(2);
    expect(new Set(server.paths)).toEqual(new Set(["/1", "/2"]));
    // Each answer frees a connection for the oldest waiting request, and only that one.
    let held = first;
    for (const expected of ["/3", "/4", "/5"]) {
      held[0]?.response.end();
      const arrived = await server.next();
      expect(arrived.request.url).toBe(expected);
      held = [held[1] as Held, arrived];
    }
    for (const { response } of held) response.end();
    expect((await Promise.all(answers)).map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(server.sockets).toHaveLength(2);
  });

  it("does not reuse a connection the server answered with Connection: close", async () => {
    const server = await httpServer();
    const connections = pool(server.url);
    const first = connections.request(get("/close"), 1_000, 1_000);
    (await server.next()).response.writeHead(200, { connection: "close" }).end("bye");
    expect((await first).body.toString()).toBe("bye");
    const second = connections.request(get("/again"), 1_000, 1_000);
    (await server.next()).response.end();
    expect((await second).status).toBe(200);
    expect(server.sockets).toHaveLength(2);
  });

  it("drops an idle connection the server closed and opens a new one for the next request", async () => {
    const server = await httpServer();
    const connections = pool(server.url);
    const first = connections.request(get("/one"), 1_000, 1_000);
    (await server.next()).response.end();
    await first;
    expect(connections.openConnections).toBe(1);
    server.sockets[0]?.end();
    await vi.waitFor(() => expect(connections.openConnections).toBe(0));
    const second = connections.request(get("/two"), 1_000, 1_000);
    (await server.next()).response.end();
    expect((await second).status).toBe(200);
    expect(server.sockets).toHaveLength(2);
  });

  it("reads chunked bodies and reuses the connection after them", async () => {
    const server = await httpServer();
    const connections = pool(server.url);
    for (const path of ["/x", "/y"]) {
      const answer = connections.request(get(path), 1_000, 1_000);
      const { response } = await server.next();
      response.writeHead(400);
      response.write("a");
      response.write("b".repeat(5000));
      response.end("c");
      expect((await answer).body.toString()).toBe(`a${"b".repeat(5000)}c`);
    }
    expect(server.sockets).toHaveLength(1);
  });

  it("reads a 204 as no body and a discarded status's body as empty, and reuses the connection", async () => {
    const server = await httpServer();
    const connections = pool(server.url);
    const empty = connections.request(get("/204"), 1_000, 1_000);
    (await server.next()).response.writeHead(204).end();
    expect(await empty).toMatchObject({ status: 204, reusable: true });
    const discarded = connections.request(get("/202"), 1_000, 1_000);
    (await server.next()).response.writeHead(202).end("ignored");
    expect(await discarded).toMatchObject({ status: 202, reusable: true });
    expect((await discarded).body.length).toBe(0);
    expect(server.sockets).toHaveLength(1);
  });

  it("skips a 100 Continue before the answer", async () => {
    const server = await httpServer();
    const connections = pool(server.url);
    const answer = connections.request(get("/continue"), 1_000, 1_000);
    const { response } = await server.next();
    response.writeContinue();
    response.writeHead(403).end("no");
    expect(await answer).toMatchObject({ status: 403 });
    expect((await answer).body.toString()).toBe("no");
  });

  it("ends a written request left unanswered with the answer timeout", async () => {
    const server = await httpServer();
    const connections = pool(server.url);
    const error = await failureOf(connections.request(get("/hold"), 10_000, 30));
    expect(error.timeout).toBe("answer");
    expect(error.message).toBe("no answer within 30 ms of the request");
    expect(server.paths).toEqual(["/hold"]);
  });
});

describe("Http1Connections against raw servers", () => {
  it("reads a response that arrives one byte at a time", async () => {
    const bytes = Buffer.from(
      "HTTP/1.1 410 Gone\r\nX-Amzn-ErrorType: GoneException\r\nx-amzn-errortype: second\r\nTransfer-Encoding: chunked\r\n\r\n3;ext\r\nabc\r\n0\r\nTrailer: t\r\n\r\n",
    );
    const url = await rawServer((socket) => {
      socket.setNoDelay(true);
      socket.once("data", async () => {
        for (const byte of bytes) {
          socket.write(Buffer.of(byte));
          await new Promise((resolve) => setImmediate(resolve));
        }
      });
    });
    const answer = await pool(url).request(get("/bytes"), 1_000, 5_000);
    expect(answer.status).toBe(410);
    expect(answer.headers.get("x-amzn-errortype")).toBe("GoneException");
    expect(answer.body.toString()).toBe("abc");
  });

  it("fails on a malformed status line or header, and closes that connection", async () => {
    for (const bytes of [
      "HTTP/1.1 2OO OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n",
    ]) {
      const url = await rawServer(answering(bytes));
      const connections = pool(url);
      const error = await failureOf(connections.request(get("/bad"), 1_000, 1_000));
      expect(error.timeout).toBeUndefined();
      expect(error.message).toMatch(
        /^the server's answer is malformed: (the status|a header) line is malformed/,
      );
      expect(connections.openConnections).toBe(0);
    }
  });

  it("fails on a head over 16 KB", async () => {
    const url = await rawServer(
      answering(`HTTP/1.1 200 OK\r\nx-big: ${"a".repeat(20_000)}\r\n\r\n`),
    );
    const error = await failureOf(pool(url).request(get("/big"), 1_000, 1_000));
    expect(error.message).toMatch(/head exceeds 16384 bytes/);
  });

  it("fails when the connection is reset in the middle of the response", async () => {
    const url = await rawServer(
      answering("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", (socket) =>
        socket.resetAndDestroy(),
      ),
    );
    const error = await failureOf(pool(url).request(get("/reset"), 1_000, 1_000));
    expect(error.timeout).toBeUndefined();
    expect(error.message).toMatch(/ECONNRESET|in the middle of its response/);
  });

  it("fails, as a connection error, when the server closes after the request without answering", async () => {
    const url = await rawServer(answering("", (socket) => socket.end()));
    const error = await failureOf(pool(url).request(get("/closed"), 1_000, 1_000));
    expect(error.timeout).toBeUndefined();
    expect(error.message).toBe("the server closed the connection before answering");
  });

  it("reads a body without length until the server closes", async () => {
    const url = await rawServer(
      answering("HTTP/1.1 200 OK\r\n\r\nall of it", (socket) => socket.end()),
    );
    const connections = pool(url);
    const answer = await connections.request(get("/eof"), 1_000, 1_000);
    expect(answer.body.toString()).toBe("all of it");
    expect(answer.reusable).toBe(false);
  });

  it("ends a request that cannot be written with the send timeout; a small one to the same server is written (positive control)", async () => {
    // Never reads: a body larger than the socket buffers stays unwritten.
    const url = await rawServer((socket) => socket.pause());
    const connections = pool(url);
    const big = Buffer.alloc(48 * 1024 * 1024, 120);
    const stalled = await failureOf(connections.request(get("/big", big), 50, 600_000));
    expect(stalled.timeout).toBe("send");
    expect(stalled.message).toBe("the request could not be sent within 50 ms");
    const small = await failureOf(connections.request(get("/small", "x"), 10_000, 50));
    expect(small.timeout).toBe("answer");
  });

  it("reports a refused connection as a network error that no timeout ended", async () => {
    const closed = createTcpServer();
    await listen(closed);
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const error = await failureOf(
      pool(new URL(`http://127.0.0.1:${port}`)).request(get("/"), 1_000, 1_000),
    );
    expect(error.timeout).toBeUndefined();
    expect(error.message).toMatch(/ECONNREFUSED/);
  });

  it("refuses a request it cannot write as HTTP/1.1 before sending anything", async () => {
    const connections = pool(new URL("http://127.0.0.1:9"));
    await expect(
      connections.request({ method: "POST", path: "/a b", headers: {}, body: "" }, 1_000, 1_000),
    ).rejects.toThrow(TypeError);
    await expect(
      connections.request(
        { method: "POST", path: "/", headers: { x: "a\r\nevil: 1" }, body: "" },
        1_000,
        1_000,
      ),
    ).rejects.toThrow(TypeError);
    expect(connections.openConnections).toBe(0);
  });
});

describe("Http1Connections' idle sockets", () => {
  it("do not keep the process alive", async () => {
    const server = await httpServer();
    const module = new URL("./http1-connections.ts", import.meta.url).pathname;
    const script = `
      import { Http1Connections } from ${JSON.stringify(module)};
      const connections = new Http1Connections(new URL(process.argv[1]), { maxSockets: 2 });
      const answer = await connections.request({ method: "POST", path: "/", headers: {}, body: "x" }, 5000, 5000);
      console.log(JSON.stringify({ status: answer.status, open: connections.openConnections }));
    `;
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script, server.url.href],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    (await server.next()).response.end();
    const [code] = await once(child, "exit");
    expect(code).toBe(0);
    // Positive control: the connection was still pooled, open, when the process ended on its own.
    expect(JSON.parse(out)).toEqual({ status: 200, open: 1 });
  }, 20_000);
});

const openssl = (() => {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!openssl)("Http1Connections over TLS", () => {
  function selfSigned(): { key: string; cert: string } {
    const dir = mkdtempSync(join(tmpdir(), "http1-tls-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost",
      ],
      { stdio: "ignore" },
    );
    return {
      key: readFileSync(join(dir, "key.pem"), "utf8"),
      cert: readFileSync(join(dir, "cert.pem"), "utf8"),
    };
  }

  it("names the host for SNI, offers http/1.1, verifies the certificate and reuses the connection", async () => {
    const { key, cert } = selfSigned();
    const seen: { servername: string | false | null; alpn: string | false | null }[] = [];
    const server = createHttpsServer(
      { key, cert, ALPNProtocols: ["http/1.1"] },
      (request, response) => {
        const socket = request.socket as TLSSocket;
        seen.push({ servername: socket.servername, alpn: socket.alpnProtocol });
        request.resume();
        request.on("end", () => response.writeHead(403).end("secret"));
      },
    );
    await listen(server);
    cleanups.push(() => closeServer(server));
    const url = new URL(`https://localhost:${(server.address() as AddressInfo).port}`);

    const trusting = pool(url, 2, cert);
    for (const path of ["/a", "/b"]) {
      const answer = await trusting.request(get(path), 5_000, 5_000);
      expect(answer.body.toString()).toBe("secret");
    }
    expect(seen).toEqual([
      { servername: "localhost", alpn: "http/1.1" },
      { servername: "localhost", alpn: "http/1.1" },
    ]);
    expect(trusting.openConnections).toBe(1);

    // Verification is on by default: without the test's certificate the handshake fails.
    const error = await failureOf(pool(url).request(get("/c"), 5_000, 5_000));
    expect(error.message).toMatch(/self[- ]signed/i);
    expect(seen).toHaveLength(2);

    // A refused TLS connection fails as a connection error too (the TCP socket's error reaches it).
    await closeServer(server);
    const refused = await failureOf(pool(url, 2, cert).request(get("/d"), 5_000, 5_000));
    expect(refused.timeout).toBeUndefined();
    expect(refused.message).toMatch(/ECONNREFUSED/);
  });
});
