import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";

/**
 * An emulated network round trip in front of the stage's @connections, for the bench's `--rtt`:
 * a TCP relay that passes every request byte on at once (the gateway gets the post, and the client
 * its frame, without delay) and holds every byte of the answer for `rttMs` before passing it back.
 * Each post's answer thus arrives one round trip after the post was sent, as it does over a
 * network, while the poster's connections stay the same keep-alive connections. The round trip
 * is an assumption the bench is told, not a measurement of AWS.
 */
export interface RoundTripRelay {
  /** `target` with its origin replaced by the relay's; the relay's origin alone without one. */
  readonly url: string;
  /**
   * Passes the connections that follow to `target`'s host, and returns `target` with its origin
   * replaced by the relay's. This lets functions be given the relay's address before the stage
   * behind it has one (the bench's shards section starts the relay, then the stage).
   */
  forwardTo(target: string): string;
  close(): Promise<void>;
}

/**
 * Starts a relay to `target`'s host, or to none yet (connections are closed until forwardTo sets
 * one).
 */
export async function startRoundTripRelay(
  target: string | undefined,
  rttMs: number,
): Promise<RoundTripRelay> {
  let upstream = target === undefined ? undefined : new URL(target);
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (upstream === undefined) {
      client.destroy();
      return;
    }
    const gateway = connect({ host: upstream.hostname, port: Number(upstream.port) });
    sockets.add(client).add(gateway);
    client.setNoDelay(true);
    gateway.setNoDelay(true);
    client.pipe(gateway);
    // Timers of one duration fire in the order they were set: the answer's bytes stay in order.
    gateway.on("data", (chunk: Buffer) => {
      setTimeout(() => client.write(chunk), rttMs);
    });
    gateway.on("end", () => setTimeout(() => client.end(), rttMs));
    const close = () => {
      client.destroy();
      gateway.destroy();
      sockets.delete(client);
      sockets.delete(gateway);
    };
    client.on("error", close).on("close", close);
    gateway.on("error", close).on("close", () => setTimeout(close, rttMs));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const relayed = (url: URL | undefined) =>
    `http://127.0.0.1:${port}${url === undefined || url.pathname === "/" ? "" : url.pathname}`;
  return {
    url: relayed(upstream),
    forwardTo(next) {
      upstream = new URL(next);
      return relayed(upstream);
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
