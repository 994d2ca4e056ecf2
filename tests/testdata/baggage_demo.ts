// What Deno's fetch sends to any host it calls, with baggage in the context, and the ways to keep it from
// leaking. Run with OTEL_DENO=true; each fetch goes to `<url>?<label>` so that the receiving end can tell
// them apart. Prints the trace id of the work span.
import { context, propagation, trace } from "@opentelemetry/api";

const url = Deno.args[0];
const call = async (label: string, init?: RequestInit) => await (await fetch(`${url}?${label}`, init)).text();

/** A fetch for hosts outside your system: the call still gets a traceparent, but no baggage. */
function fetchExternal(input: string, init?: RequestInit): Promise<Response> {
  return context.with(propagation.deleteBaggage(context.active()), () => fetch(input, init));
}

await trace.getTracer("baggage-demo").startActiveSpan("work", async (span) => {
  console.log(`trace id: ${span.spanContext().traceId}`);
  const baggage = propagation.createBaggage({
    "user.id": { value: "42" },
    "session.token": { value: "s3cr3t" },
  });
  await context.with(propagation.setBaggage(context.active(), baggage), async () => {
    await call("default");
    await (await fetchExternal(`${url}?without-baggage`)).text();
    // Keep only the entries meant to travel.
    const allowed = propagation.createBaggage(
      Object.fromEntries(baggage.getAllEntries().filter(([key]) => key === "user.id")),
    );
    await context.with(propagation.setBaggage(context.active(), allowed), () => call("allow-listed"));
    // Not even the trace id: a context without the span makes Deno start an unrelated trace for the call.
    await context.with(
      trace.deleteSpan(propagation.deleteBaggage(context.active())),
      () => call("fresh-trace"),
    );
    // Setting the header yourself does not replace Deno's: it appends its own value.
    await call("own-header", {
      headers: { traceparent: "00-11111111111111111111111111111111-2222222222222222-01" },
    });
  });
  span.end();
});
