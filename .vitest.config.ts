import { defineConfig } from "vitest/config";
import type { Reporter, TestModule } from "vitest/node";

/**
 * Prints `N passed, N failed, N skipped` alone on the last line: CI reads that line, and vitest's
 * own summary is coloured and split across lines.
 */
const summaryLine: Reporter = {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors) {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const testModule of testModules) {
      if (testModule.state() === "failed" && [...testModule.children.allTests()].length === 0) {
        counts.failed += 1;
      }
      for (const test of testModule.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") counts.passed += 1;
        else if (state === "failed") counts.failed += 1;
        else counts.skipped += 1;
      }
    }
    counts.failed += unhandledErrors.length;
    process.stdout.write(
      `\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`,
    );
  },
};

export default defineConfig({
  test: {
    include: ["{functions,stacks,smoke,scripts}/**/*.test.ts"],
    reporters: ["default", summaryLine],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Keep the noisy 2-core machines from timing out heavy integration files.
    maxWorkers: 2,
  },
});
