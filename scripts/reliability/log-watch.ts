import type { LocalLogEntry } from "../local/local-log.js";

/** The local stage's log entries as they are written, for a run that waits on one. */
export class LogWatch {
  private readonly waiters = new Set<(entry: LocalLogEntry) => void>();

  /** Hands an entry to every waiter (the stage's onLog). */
  readonly push = (entry: LocalLogEntry): void => {
    for (const waiter of [...this.waiters]) waiter(entry);
  };

  /**
   * Resolves with the first entry from now on that `matches`, or undefined after `timeoutMs`.
   * Call it before causing the entry, so the entry cannot slip by.
   */
  next(
    matches: (entry: LocalLogEntry) => boolean,
    timeoutMs: number,
  ): Promise<LocalLogEntry | undefined> {
    return new Promise((resolve) => {
      const waiter = (entry: LocalLogEntry) => {
        if (!matches(entry)) return;
        done(entry);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const done = (entry: LocalLogEntry | undefined) => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve(entry);
      };
      this.waiters.add(waiter);
    });
  }

  /** Resolves with the first `count` matching entries from now on (fewer after `timeoutMs`). */
  collect(
    matches: (entry: LocalLogEntry) => boolean,
    count: number,
    timeoutMs: number,
  ): Promise<LocalLogEntry[]> {
    return new Promise((resolve) => {
      const found: LocalLogEntry[] = [];
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve(found);
      };
      const waiter = (entry: LocalLogEntry) => {
        if (!matches(entry)) return;
        found.push(entry);
        if (found.length >= count) done();
      };
      const timer = setTimeout(done, timeoutMs);
      if (count <= 0) done();
      else this.waiters.add(waiter);
    });
  }
}
