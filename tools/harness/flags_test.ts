import assert from "node:assert/strict";
import { FlagError, flagTable, helpText, parseFlags } from "./flags.ts";

const specs = {
  port: { type: "number", default: 4318, max: 65535, help: "the port to listen on" },
  ratio: { type: "number", default: 0.5, max: 1, fraction: true, help: "a share" },
  rates: { type: "numbers", default: [1, 2], min: 1, max: 100, help: "rates to try" },
  sections: { type: "strings", default: ["a"], choices: ["a", "b"], help: "what to run" },
  out: { type: "string", help: "where to write" },
  mode: { type: "string", default: "x", choices: ["x", "y"], help: "how" },
  smoke: { type: "boolean", help: "a short run" },
  env: { type: "strings", default: [], repeated: true, help: "NAME=VALUE for the child" },
} as const;

Deno.test("flags take their defaults, and typed values when given", () => {
  const none = parseFlags(specs, []);
  assert.deepEqual(none.values, {
    port: 4318,
    ratio: 0.5,
    rates: [1, 2],
    sections: ["a"],
    out: undefined,
    mode: "x",
    smoke: false,
    env: [],
  });
  assert.equal(none.help, false);
  const given = parseFlags(specs, [
    "--port=0",
    "--ratio",
    "0.25",
    "--rates=3,4",
    "--sections=b,a",
    "--smoke",
  ]);
  assert.equal(given.values.port, 0);
  assert.equal(given.values.ratio, 0.25);
  assert.deepEqual(given.values.rates, [3, 4]);
  assert.deepEqual(given.values.sections, ["b", "a"]);
  assert.equal(given.values.smoke, true);
  assert.equal(parseFlags(specs, ["-h"]).help, true);
  assert.deepEqual(parseFlags(specs, ["--env=A=1,2", "--env", "B=3"]).values.env, ["A=1,2", "B=3"]);
});

Deno.test("a bad value or an unknown flag is a one-line FlagError naming the flag", () => {
  const cases: [string[], RegExp][] = [
    [["--port=65536"], /^--port takes a whole number from 0 to 65535, got "65536"$/],
    [["--port=1e3"], /^--port takes a whole number/],
    [["--port="], /^--port takes a whole number/],
    [["--port=-1"], /^--port takes a whole number/],
    [["--ratio=2"], /^--ratio takes a number from 0 to 1/],
    [["--rates=1,x"], /^--rates takes a whole number from 1 to 100, got "x"$/],
    [["--sections=c"], /^--sections takes one of a, b, got "c"$/],
    [["--mode=z"], /^--mode takes one of x, y/],
    [["--nope"], /Unknown option '--nope'/],
    [["stray"], /Unexpected argument 'stray'/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseFlags(specs, args), (error: Error) => {
      assert.ok(error instanceof FlagError, `${args}: ${error}`);
      assert.match(error.message, message);
      assert.ok(!error.message.includes("\n"));
      return true;
    });
  }
  assert.deepEqual(parseFlags(specs, ["a.ts"], { positionals: true }).positionals, ["a.ts"]);
});

Deno.test("the help text and the README table come from the same definitions", () => {
  const help = helpText("deno task x [flags]", specs);
  assert.match(help, /^usage: deno task x \[flags\]\n/);
  assert.match(help, /--port=N +the port to listen on \(default 4318\)/);
  assert.match(help, /--smoke +a short run$/m);
  const table = flagTable(specs).split("\n");
  assert.equal(table.length, 2 + Object.keys(specs).length);
  assert.equal(table[2], "| `--port` | 4318 | the port to listen on |");
  assert.equal(table[6], "| `--out` | none | where to write |");
});
