/**
 * Replays what `record.ts` recorded into a receiver, for tests of the receiver and the renderer.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createReceiverHandler, TelemetryStore } from "../receiver.ts";
import type { RecordedRequest } from "./record.ts";

const recorded: Record<string, RecordedRequest[]> = JSON.parse(
  await Deno.readTextFile(new URL("recorded.json", import.meta.url)),
);

/** Replays what Deno really sent, in one scenario of `recorded/recorded.json`, into a fresh store. */
export async function replay(scenario: string): Promise<TelemetryStore> {
  const store = new TelemetryStore();
  const handle = createReceiverHandler(store);
  for (const { path, contentType, body } of recorded[scenario]) {
    const response = await handle(
      new Request(`http://receiver${path}`, {
        method: "POST",
        headers: { "content-type": contentType },
        body: Uint8Array.fromBase64(body),
      }),
    );
    assert.equal(response.status, 200, await response.text());
  }
  return store;
}
