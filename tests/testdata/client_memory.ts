// client.ts's callApi against SERVER_URL, printing the process's peak RSS during the call (sampled every
// 10 ms) after the outcome: for the opt-in memory test of tests/client_hostile_server_test.ts.
import { callApi } from "../../client.ts";

let peak = Deno.memoryUsage().rss;
const sampler = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 10);
const outcome = await callApi(Deno.env.get("SERVER_URL")!).then(() => "ok", (error) => error.name);
clearInterval(sampler);
peak = Math.max(peak, Deno.memoryUsage().rss);
console.log(JSON.stringify({ outcome, peakMiB: Math.round(peak / 1_048_576) }));
