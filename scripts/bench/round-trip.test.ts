import { Agent, createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type RoundTripRelay, startRoundTripRelay } from "./round-trip.js";

let server: Server;
let relay: RoundTripRelay;
const received: string[] = [];
let answered: (() => void) | undefined;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => {
      received.push(`${req.method} ${req.url} ${body}`);
      res.writeHead(200).end("ok", () => answered?.());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  relay = await startRoundTripRelay(
    `http://127.0.0.1:${(server.address() as AddressInfo).port}/local`,
    250,
  );
});
afterAll(async () => {
  await relay.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("the round-trip relay", () => {
  it("keeps the endpoint's path and passes the request on at once, holding only the answer", async () => {
    expect(new URL(relay.url).pathname).toBe("/local");
    vi.useFakeTimers({ toFake: ["setTimeout"] });
    try {
      const agent = new Agent({ keepAlive: true });
      for (const frame of ["one", "two"]) {
        const served = new Promise<void>((resolve) => {
          answered = resolve;
        });
        let answer = "";
        const response = new Promise<number>((resolve, reject) => {
          const req = request(`${relay.url}/@connections/abc`, { method: "POST", agent }, (res) => {
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => {
              answer += chunk;
            });
            res.on("end", () => resolve(res.statusCode ?? 0));
          });
          req.on("error", reject);
          req.end(frame);
        });
        let done = false;
        void response.then(() => {
          done = true;
        });
        // The server got the post and answered, while the relay still holds the answer.
        await served;
        await vi.waitFor(() => expect(vi.getTimerCount()).toBeGreaterThan(0));
        expect(received.at(-1)).toBe(`POST /local/@connections/abc ${frame}`);
        await new Promise((resolve) => setImmediate(resolve));
        expect(done).toBe(false);
        // One round trip later the answer arrives, over the same kept-alive connection.
        vi.advanceTimersByTime(250);
        expect(await response).toBe(200);
        expect(answer).toBe("ok");
      }
      agent.destroy();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("a relay started before the stage behind it", () => {
  it("closes connections until forwardTo names the stage, then relays to it on the target's path", async () => {
    const late = await startRoundTripRelay(undefined, 1);
    try {
      const post = (url: string) =>
        new Promise<number>((resolve, reject) => {
          const req = request(url, { method: "POST" }, (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
          });
          req.on("error", reject);
          req.end("early");
        });
      const before = received.length;
      await expect(post(`${late.url}/local/@connections/abc`)).rejects.toThrow();
      expect(received.length).toBe(before);

      const url = late.forwardTo(
        `http://127.0.0.1:${(server.address() as AddressInfo).port}/local`,
      );
      expect(new URL(url).origin).toBe(new URL(late.url).origin);
      expect(new URL(url).pathname).toBe("/local");
      expect(await post(`${url}/@connections/xyz`)).toBe(200);
      expect(received.at(-1)).toBe("POST /local/@connections/xyz early");
    } finally {
      await late.close();
    }
  });
});
