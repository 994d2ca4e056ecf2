/**
 * Starts a server-like script of the tests (one that prints `Server listening on <url>`) as a child process,
 * the way `viewer/processes.ts` starts `server.ts`.
 *
 * @module
 */
import { type ChildEnv, type ExitResult, otelEnv, SERVER_PERMISSIONS } from "../viewer/processes.ts";

/** A running script. */
export interface ScriptProcess extends AsyncDisposable {
  url: string;
  port: number;
  /** Sends `signal` (default SIGTERM) and waits for the exit. */
  stop(signal?: Deno.Signal): Promise<ExitResult>;
}

const ROOT = new URL("../", import.meta.url);

/** Starts `script` (a path from the repository root) with the server task's permissions and resolves once it listens. */
export async function startScript(
  script: string,
  { otlpEndpoint, env = {}, permissions = SERVER_PERMISSIONS }: {
    otlpEndpoint?: string;
    env?: ChildEnv;
    permissions?: string[];
  } = {},
): Promise<ScriptProcess> {
  const child = new Deno.Command("deno", {
    args: ["run", ...permissions, script],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...otelEnv("server", { otlpEndpoint }), HOST: "127.0.0.1", PORT: "0", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  const stderr = new Response(child.stderr).text();
  const { promise: announced, resolve: announce } = Promise.withResolvers<string | undefined>();
  const reading = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      stdout += chunk;
      const url = stdout.match(/^Server listening on (http:\/\/\S+)$/m)?.[1];
      if (url) announce(url);
    }
    announce(undefined);
  })();
  const exit = (async () => {
    const status = await child.status;
    await reading;
    return { code: status.code, signal: status.signal, stdout, stderr: await stderr };
  })();
  const url = await announced;
  if (url === undefined) {
    const { code, stdout, stderr } = await exit;
    throw new Error(`${script} exited with code ${code} before listening:\n${stdout}${stderr}`);
  }
  const stop = async (signal: Deno.Signal = "SIGTERM") => {
    try {
      child.kill(signal);
    } catch {
      // Already exited.
    }
    return await exit;
  };
  return { url, port: Number(new URL(url).port), stop, [Symbol.asyncDispose]: () => stop().then() };
}
