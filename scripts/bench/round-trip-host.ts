import { type RoundTripRelay, startRoundTripRelay } from "./round-trip.js";
import { serve } from "./worker.js";

/**
 * The `--rtt` relay (round-trip.ts) in a process of its own, so its work lands neither in a
 * function host's CPU nor in the stage's.
 */

let relay: RoundTripRelay | undefined;

serve({
  async start(args) {
    relay = await startRoundTripRelay(String(args.target), Number(args.rttMs));
    return { url: relay.url };
  },
  async stop() {
    await relay?.close();
    return {};
  },
});
