import { spawn } from "node:child_process";

/**
 * A measurement taken inside a fresh `node` process of its own (a cold import, a synth): the
 * process prints its figures as one JSON object on the last line of stdout, and exits 0.
 */
export function measureInProcess<T>(
  what: string,
  args: readonly string[],
  options: { readonly env: NodeJS.ProcessEnv; readonly cwd?: string },
): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: options.env,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.once("error", reject);
    child.once("exit", (code) => {
      // The last lines carry the error; the ones before may quote a whole minified bundle line.
      const tail = err.trim().split("\n").slice(-8).join("\n").slice(-2000);
      if (code !== 0) reject(new Error(`${what} failed (exit ${code}): ${tail}`));
      else resolve(JSON.parse(out.trimEnd().split("\n").at(-1) ?? "") as T);
    });
  });
}
