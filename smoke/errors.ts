/**
 * A failure the user can act on (a stage that is not up, a bad argument, a failed check). Command
 * line entry points print its message without a stack trace and exit with its exit code.
 */
export class ExpectedError extends Error {
  override readonly name: string = "ExpectedError";
  readonly exitCode: number;

  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.exitCode = options.exitCode ?? 1;
  }
}

/** The stage asked for is not running (local) or has no outputs here (deployed). */
export class StageNotUpError extends ExpectedError {
  override readonly name = "StageNotUpError";
}
