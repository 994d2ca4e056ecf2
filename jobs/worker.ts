/**
 * The Web Worker of the jobs example. A worker starts with no active span and `postMessage` carries no
 * context, so the sender puts its context in the message (`carrier`) and the worker extracts it: the
 * worker's span is then a child of the sender's.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { propagation, ROOT_CONTEXT, SpanStatusCode, trace } from "@opentelemetry/api";

const tracer = trace.getTracer("jobs-worker", "1.0.0");

self.onmessage = ({ data }: MessageEvent<{ id: string; carrier: Record<string, string>; text: string }>) => {
  const parent = propagation.extract(ROOT_CONTEXT, data.carrier ?? {});
  tracer.startActiveSpan("resize in worker", {}, parent, (span) => {
    try {
      // Stands for CPU-bound work, the reason to use a worker.
      const digest = [...data.text].reduce((sum, character) => (sum * 31 + character.charCodeAt(0)) >>> 0, 7);
      self.postMessage({ id: data.id, digest });
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      self.postMessage({ id: data.id, error: (error as Error).message });
    } finally {
      span.end();
    }
  });
};
