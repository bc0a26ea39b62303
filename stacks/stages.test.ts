import { describe, expect, it } from "vitest";
import { DEPLOYED_STAGES, FANOUT } from "../functions/contract.js";
import { fanoutSettingsProblem, STAGE_SETTINGS, type StageSettings } from "./stages.js";

const dev = STAGE_SETTINGS.dev;
const withFanout = (
  fanout: Partial<StageSettings["fanout"]>,
  timeoutSeconds = dev.timeoutSeconds,
) => fanoutSettingsProblem({ ...dev, timeoutSeconds, fanout: { ...dev.fanout, ...fanout } });

describe("fanoutSettingsProblem", () => {
  it("accepts every stage's settings, which keep in-process fan-outs to one page by default", () => {
    for (const stage of DEPLOYED_STAGES) {
      expect(fanoutSettingsProblem(STAGE_SETTINGS[stage])).toBeUndefined();
      expect(STAGE_SETTINGS[stage].fanout.inProcessMax).toBe(FANOUT.inProcessMaxDefault);
    }
  });

  it("refuses values the functions would refuse at cold start, naming the variable", () => {
    expect(withFanout({ pageSize: FANOUT.pageSizeMax + 1 })).toMatch(/FANOUT_PAGE_SIZE.*1 to 1000/);
    expect(withFanout({ inProcessMax: 0 })).toMatch(/FANOUT_IN_PROCESS_MAX/);
    expect(withFanout({ inProcessMax: 100_000 })).toMatch(
      /FANOUT_IN_PROCESS_MAX.*1 to 10000 \(got 100000\); shard larger fan-outs/,
    );
    expect(withFanout({ postsPerSecond: FANOUT.accountRequestsPerSecond + 1 })).toMatch(
      /FANOUT_POSTS_PER_SECOND/,
    );
  });

  it("refuses an in-process maximum the budget cannot post within the function's time", () => {
    // 10 s timeout less the 3 s hand-off margin: 7,000 posts at 1,000/s fit, 8,000 do not.
    expect(withFanout({ inProcessMax: 7000, postsPerSecond: 1000 }, 10)).toBeUndefined();
    expect(withFanout({ inProcessMax: 8000, postsPerSecond: 1000 }, 10)).toMatch(
      /8000 at 1000 posts\/s takes 8\.0 s, more than the 7 s/,
    );
    // API Gateway's 29 s integration window bounds the message function whatever the timeout.
    expect(withFanout({ inProcessMax: 10_000, postsPerSecond: 350 }, 900)).toMatch(
      /more than the 26 s/,
    );
    // Up to one shard stays unpaced: the budget does not bound its time.
    expect(withFanout({ inProcessMax: 1000, postsPerSecond: 1 }, 10)).toBeUndefined();
  });
});
