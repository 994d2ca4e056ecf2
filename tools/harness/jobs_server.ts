/**
 * Starts `jobs/server.ts` as the `jobs` task does, for the demo, the tests and the stack check: with the
 * task's flags (`--unstable-kv`, its `--env-file` and permissions, the one source), through the harness.
 *
 * @module
 */
import { type ServerProcess, startServer } from "./processes.ts";
import { denoRunOf } from "./tasks.ts";

/** The `jobs` task's `deno run` flags: permissions, `--unstable-kv` and its `--env-file`. */
export function jobsFlags(): string[] {
  return denoRunOf("jobs").argv.filter((word) => /^--(allow-|deny-|unstable-|env-file)/.test(word));
}

/** Starts `jobs/server.ts` as the `jobs` task does, on 127.0.0.1 at a free port, exporting to `otlpEndpoint`. */
export function startJobsServer(
  { otlpEndpoint, env = {} }: { otlpEndpoint?: string; env?: Record<string, string> } = {},
): Promise<ServerProcess> {
  return startServer({
    script: "jobs/server.ts",
    permissions: jobsFlags(),
    otlpEndpoint,
    protocol: "http/protobuf",
    env: { OTEL_SERVICE_NAME: "jobs", JOBS_HOST: "127.0.0.1", JOBS_PORT: "0", ...env },
  });
}
