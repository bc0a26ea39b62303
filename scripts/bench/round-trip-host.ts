import { type RoundTripRelay, startRoundTripRelay } from "./round-trip.js";
import { serve } from "./worker.js";

/**
 * The `--rtt` relay (round-trip.ts) in a process of its own, so its work lands neither in a
 * function host's CPU nor in the stage's.
 */

let relay: RoundTripRelay | undefined;

serve({
  async start(args) {
    relay = await startRoundTripRelay(
      typeof args.target === "string" ? args.target : undefined,
      Number(args.rttMs),
    );
    return { url: relay.url };
  },
  async forward(args) {
    if (relay === undefined) throw new Error("the relay has not started");
    return { url: relay.forwardTo(String(args.target)) };
  },
  async stop() {
    await relay?.close();
    return {};
  },
});
