// Opt-in (five shops one after another, about half a minute):
//   SHOP_FAULTS=1 deno test --allow-run=deno --allow-net=127.0.0.1 --allow-read=. \
//     --allow-env=SHOP_FAULTS,PATH,HOME,DENO_DIR,XDG_CACHE_HOME shop/faults_test.ts
// CI runs it. `shop_test.ts` switches every fault on at once; this switches each on alone, and checks that it
// leaves its own signature and no other fault's.
import assert from "node:assert/strict";
import { startReceiver } from "@example/otlp/receiver";
import { type Fault, FAULTS, startShop } from "./service.ts";
import { EXTRA_CHECKOUTS } from "./demo.ts";
import { callsTo, checkoutSpan, SIGNATURES } from "./signatures.ts";

const optedIn = Deno.permissions.querySync({ name: "env", variable: "SHOP_FAULTS" }).state === "granted" &&
  Deno.env.get("SHOP_FAULTS") === "1";

for (const fault of Object.keys(FAULTS) as Fault[]) {
  Deno.test({
    name: `${fault} alone (opt-in, SHOP_FAULTS=1): its signature, and no other fault's`,
    ignore: !optedIn,
    async fn() {
      await using receiver = startReceiver({ port: 0 });
      const shop = await startShop({ otlpEndpoint: receiver.url, faults: [fault] });
      const checkout = () =>
        fetch(`${shop.url}checkout?items=1,2,3`).then((response) => response.body?.cancel());
      try {
        await checkout();
        await Promise.all(Array.from({ length: EXTRA_CHECKOUTS }, checkout));
      } finally {
        assert.equal((await shop.stop()).code, 0);
      }
      const traces = await receiver.store.waitFor((store) => {
        const traces = store.traces().filter((trace) => checkoutSpan(trace));
        return traces.length === 1 + EXTRA_CHECKOUTS && traces;
      }, { signal: AbortSignal.timeout(10_000) });
      for (const other of Object.keys(FAULTS) as Fault[]) {
        const showing = traces.filter((trace) => SIGNATURES[other](trace) !== undefined).length;
        if (other === fault) assert.ok(showing > 0, `${fault}: no trace shows it`);
        else assert.equal(showing, 0, `${other} shows with only ${fault} on`);
      }
      if (fault === "slow-dependency") {
        // Alone, the burst reaches the inventory within its 200 ms timeout: the retry is its ninth request.
        const retried = traces.find((trace) => SIGNATURES[fault](trace));
        const [, second] = callsTo(retried!, "/stock");
        assert.notEqual(second.status.code, "ERROR", "the second attempt succeeds");
      }
    },
  });
}
