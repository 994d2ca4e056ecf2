// Runs testdata/print_env.ts through the harness and prints what it printed: started by processes_test.ts with
// variables of its own, to show that they do not reach a child of the harness.
import { runDeno } from "../processes.ts";

const { code, stdout, stderr } = await runDeno("tools/harness/testdata/print_env.ts", {
  permissions: ["--allow-env"],
  env: { GIVEN: "1" },
});
if (code !== 0) throw new Error(stderr);
console.log(stdout.trimEnd());
