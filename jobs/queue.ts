/**
 * A Deno KV queue that carries the trace (Deno KV has no telemetry of its own; `--unstable-kv`).
 *
 * - `send` opens a PRODUCER span and injects its context into the message (`carrier`).
 * - The `listenQueue` consumer extracts it and opens a CONSUMER span as its child. It starts from
 *   `ROOT_CONTEXT`, never from the active context: the callback runs in the context that was active when
 *   `listenQueue` was called, so a message without a valid `traceparent` would silently join that trace.
 * - A handler that throws makes KV deliver the message again (`backoffSchedule`): each attempt is a child
 *   of the same PRODUCER span, the failed one with the exception and ERROR status.
 * - Messages for `notifications` are handled in batches: one batch has many parents, so its span starts a
 *   trace of its own and links to each message's context instead (the messaging conventions' choice).
 *
 * @module
 */
import {
  type Context,
  context,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";

const tracer = trace.getTracer("jobs-queue", "1.0.0");

/** What travels through the queue: the job, and the trace context it was sent in. */
export interface Message {
  /** The job's id, `messaging.message.id`. */
  id: string;
  /** Which handler takes it, `messaging.destination.name`. */
  destination: string;
  /** Fail this many attempts before succeeding (to show KV's retry). */
  failAttempts: number;
  /** The sender's context, as W3C Trace Context entries (`traceparent`, `tracestate`). */
  carrier: Record<string, string>;
}

/** Handles one message, or a batch of them; throws to have KV deliver a single message again. */
export type Handler = (message: Message, attempt: number) => Promise<void> | void;

/** The attributes of the messaging semantic conventions, for an operation on `destination`. */
function messaging(type: "send" | "process", name: string, destination: string) {
  return {
    "messaging.system": "deno_kv",
    "messaging.operation.type": type,
    "messaging.operation.name": name,
    "messaging.destination.name": destination,
  };
}

/** The string entries of a message's carrier: whatever came in the message, nothing else is trusted. */
function carrierOf(message: Partial<Message>): Record<string, string> {
  const entries = typeof message.carrier === "object" && message.carrier !== null
    ? Object.entries(message.carrier)
    : [];
  return Object.fromEntries(entries.filter(([, value]) => typeof value === "string"));
}

/** Marks `span` as failed with `error` (the exception and ERROR status), and rethrows it. */
function fail(span: Span, error: unknown): never {
  span.recordException(error as Error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
  throw error;
}

/** What {@linkcode createQueue} returns. */
export interface Queue {
  /** Sends a job to `destination`; resolves with its id once it is in the queue. */
  send(destination: string, options?: { failAttempts?: number }): Promise<string>;
  /** Resolves once every job sent so far is done, or failed its last attempt. */
  drained(): Promise<void>;
  /** `listenQueue`'s promise: settles when `kv` closes. */
  listening: Promise<void>;
}

/**
 * A job queue on `kv`: `send` hands a job off, `handlers` do the work, by destination. Messages for
 * `notifications` wait up to `batchMs` to be handled together; a failed one is delivered again after
 * `retryMs`, once.
 */
export function createQueue(
  kv: Deno.Kv,
  handlers: Record<string, Handler>,
  { batchMs = 100, retryMs = 100 } = {},
): Queue {
  const jobs: Jobs = { attempts: new Map(), unfinished: new Map() };
  let batch: Batch = [];
  const flush = () => {
    const messages = batch;
    batch = [];
    return processBatch(messages, handlers.notifications, jobs);
  };

  const listening = kv.listenQueue((value: Partial<Message>) => {
    const message = { ...value, carrier: carrierOf(value) } as Message;
    const handler = Object.hasOwn(handlers, message.destination) ? handlers[message.destination] : undefined;
    if (handler === undefined) return console.error(`queue: no handler for ${message.destination}`);
    if (message.destination === "notifications") {
      const done = Promise.withResolvers<void>();
      if (batch.push({ message, done }) === 1) setTimeout(flush, batchMs);
      return done.promise;
    }
    return deliver(message, handler, jobs);
  });

  return {
    send: (destination, { failAttempts = 0 } = {}) => send(kv, jobs, { destination, failAttempts, retryMs }),
    drained: () => Promise.all([...jobs.unfinished.values()].map(({ promise }) => promise)).then(() => {}),
    listening,
  };
}

/** The jobs a queue follows, in this process. */
interface Jobs {
  /** How often each message was delivered. */
  attempts: Map<string, number>;
  /** Sent, not yet done or given up. */
  unfinished: Map<string, PromiseWithResolvers<void>>;
}

/** Notifications waiting to be handled together, each with what resolves once it was. */
type Batch = { message: Message; done: PromiseWithResolvers<void> }[];

/** Stops waiting for job `id`: it is done, failed its last attempt, or was never sent. */
function finish(jobs: Jobs, id: string) {
  jobs.unfinished.get(id)?.resolve();
  jobs.unfinished.delete(id);
  jobs.attempts.delete(id);
}

/** Sends a job in a PRODUCER span whose context goes in the message; resolves with the job's id. */
async function send(
  kv: Deno.Kv,
  jobs: Jobs,
  { destination, failAttempts, retryMs }: { destination: string; failAttempts: number; retryMs: number },
): Promise<string> {
  const id = crypto.randomUUID();
  const attributes = { ...messaging("send", "enqueue", destination), "messaging.message.id": id };
  return await tracer.startActiveSpan(
    `enqueue ${destination}`,
    { kind: SpanKind.PRODUCER, attributes },
    async (span) => {
      try {
        const carrier: Record<string, string> = {};
        propagation.inject(context.active(), carrier); // the PRODUCER span's context goes in the message
        const message: Message = { id, destination, failAttempts, carrier };
        jobs.unfinished.set(id, Promise.withResolvers());
        await kv.enqueue(message, { backoffSchedule: [retryMs] });
        return id;
      } catch (error) {
        finish(jobs, id); // never sent: nothing to wait for
        fail(span, error);
      } finally {
        span.end();
      }
    },
  );
}

/** Handles one delivery of a single message, counting its attempts; throws to have KV deliver it again. */
function deliver(message: Message, handler: Handler, jobs: Jobs): Promise<void> {
  const attempt = (jobs.attempts.get(message.id) ?? 0) + 1;
  jobs.attempts.set(message.id, attempt);
  // The message's context, not the active one: a missing or malformed traceparent starts a fresh trace.
  const parent = propagation.extract(ROOT_CONTEXT, message.carrier);
  return process(message, parent, attempt, handler).then(
    () => finish(jobs, message.id),
    (error) => {
      if (attempt > 1) finish(jobs, message.id); // KV gives up after the one retry of `backoffSchedule`
      throw error;
    },
  );
}

/** Runs `handler` on `message` in a CONSUMER span, the child of `parent`. */
function process(message: Message, parent: Context, attempt: number, handler: Handler): Promise<void> {
  const attributes = {
    ...messaging("process", "process", message.destination),
    "messaging.message.id": message.id,
    "job.attempt": attempt,
  };
  return tracer.startActiveSpan(
    `process ${message.destination}`,
    { kind: SpanKind.CONSUMER, attributes },
    parent,
    async (span) => {
      try {
        await handler(message, attempt);
      } catch (error) {
        fail(span, error);
      } finally {
        span.end();
      }
    },
  );
}

/** Handles a batch in one CONSUMER span of a trace of its own, linked to each message's context. */
async function processBatch(messages: Batch, handler: Handler, jobs: Jobs): Promise<void> {
  const links: Link[] = messages.map(({ message }) => ({
    context: trace.getSpanContext(propagation.extract(ROOT_CONTEXT, carrierOf(message)))!,
  })).filter((link) => link.context !== undefined && trace.isSpanContextValid(link.context));
  const destination = messages[0].message.destination;
  const attributes = {
    ...messaging("process", "process", destination),
    "messaging.batch.message_count": messages.length,
  };
  await tracer.startActiveSpan(
    `process ${destination}`,
    { kind: SpanKind.CONSUMER, attributes, links, root: true },
    async (span) => {
      try {
        for (const { message } of messages) await handler(message, 1);
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      } finally {
        span.end();
        for (const { message, done } of messages) {
          finish(jobs, message.id);
          done.resolve();
        }
      }
    },
  );
}
