import assert from "node:assert/strict";
import { type InstructionCount, instructionTable, parseCallgrindTotals } from "./instructions.ts";

Deno.test("parseCallgrindTotals adds up the threads and keeps the main thread's apart", () => {
  const file = (total: number) => `version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nsummary: ${total}\n`;
  assert.deepEqual(
    parseCallgrindTotals([
      { name: "cg.1-02", text: file(300) },
      { name: "cg.1-01", text: file(1000) },
      { name: "cg.1-11", text: `events: Ir\ntotals: 5\n` },
    ]),
    { main: 1000, all: 1305 },
  );
  assert.throws(
    () => parseCallgrindTotals([{ name: "cg.1-01", text: "events: Ir\n" }]),
    /no instruction total/,
  );
  assert.throws(() => parseCallgrindTotals([{ name: "cg.1-02", text: file(1) }]), /main thread/);
});

Deno.test("instructionTable compares each row with the first of the same tracing", () => {
  const count = (script: string, traced: boolean, main: number, all: number): InstructionCount => ({
    script,
    traced,
    requests: 10,
    main,
    all,
  });
  const table = instructionTable([
    count("a.ts", false, 1000, 2000),
    count("b.ts", false, 900, 2100),
    count("a.ts", true, 4000, 5000),
    count("b.ts", true, 4400, 5000),
  ]).split("\n");
  assert.equal(table.length, 6);
  assert.equal(table[3], "| b.ts | off | 900 | 0.900 | 2,100 | 1.050 |");
  assert.equal(table[5], "| b.ts | traced | 4,400 | 1.100 | 5,000 | 1.000 |");
});
