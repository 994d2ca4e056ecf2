/**
 * The viewer as a real process for the tests: `deno task viewer` on free ports, started as its task runs it.
 * @module
 */
import assert from "node:assert/strict";
import { ROOT, spawn } from "@example/harness/processes";
import { collectOutput } from "@example/harness/output";
import { denoRunOf } from "@example/harness/tasks";

/** A running viewer: where it receives OTLP, where its page is, its pid; disposing of it stops it. */
export interface ViewerProcess extends AsyncDisposable {
  /** The OTLP/HTTP base URL (POST `${url}/v1/traces`). */
  url: string;
  /** The web page's base URL. */
  web: URL;
  /** The viewer's process id. */
  pid: number;
}

/** Starts `deno task viewer` on free ports and waits until it says where it listens. */
export async function startViewer(): Promise<ViewerProcess> {
  const [, ...args] = denoRunOf("viewer").argv;
  const child = spawn("deno", [...args, "--port", "0", "--web-port", "0"], ROOT, {});
  const stdout = collectOutput(child.stdout);
  const stderr = collectOutput(child.stderr);
  const url = await stdout.line((line) => line.match(/receiving OTLP\/HTTP .* on (http:\/\/\S+?);/)?.[1]);
  const web = await stdout.line((line) => line.match(/the traces in a browser: (http:\/\/\S+)/)?.[1]);
  assert.ok(url && web, "the viewer said where it listens");
  return {
    url,
    web: new URL(web),
    pid: child.pid,
    async [Symbol.asyncDispose]() {
      child.kill();
      await child.status;
      await Promise.all([stdout.text, stderr.text]);
    },
  };
}
