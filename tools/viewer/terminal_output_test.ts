import assert from "node:assert/strict";
import { TerminalOutput } from "./terminal_output.ts";

/** A terminal that reads nothing until `resume()` is called, then reads everything. */
function stoppedTerminal() {
  const chunks: Uint8Array[] = [];
  let resume!: () => void;
  const resumed = new Promise<void>((resolve) => resume = resolve);
  return {
    writer: {
      async write(bytes: Uint8Array) {
        await resumed;
        chunks.push(bytes.slice());
        return bytes.length;
      },
    },
    resume,
    text: () => new TextDecoder().decode(new Uint8Array(chunks.flatMap((chunk) => [...chunk]))),
  };
}

Deno.test("a stopped terminal holds up nobody: lines past the bound are dropped, and it says how many", async () => {
  const terminal = stoppedTerminal();
  const out = new TerminalOutput(terminal.writer, { maxQueuedBytes: 100 });
  // Each line is 10 bytes with its line feed: 10 fit, the rest do not.
  for (let i = 0; i < 30; i++) out.print(`line ${String(i).padStart(4, "0")}`);
  out.print("two\nlines");
  assert.equal(out.dropped, 22, "print returned at once, dropping what did not fit");
  terminal.resume();
  await out.flush();
  const expected = Array.from({ length: 10 }, (_, i) => `line ${String(i).padStart(4, "0")}\n`).join("") +
    "(22 lines not shown here: the terminal did not keep up)\n";
  assert.equal(terminal.text(), expected);
  out.print("after");
  await out.flush();
  assert.match(
    terminal.text(),
    /keep up\)\nafter\n$/,
    "once the terminal reads again, lines are shown again",
  );
});

Deno.test("a terminal that went away ends the output quietly", async () => {
  const out = new TerminalOutput({ write: () => Promise.reject(new Deno.errors.BrokenPipe("closed")) });
  out.print("lost");
  await out.flush();
  out.print("also lost");
  await out.flush();
  assert.equal(out.dropped, 0);
});

Deno.test("a line printed at any moment of the writing is written: none is left behind in the queue", async () => {
  // The second line is printed a few microtasks after the first, which covers the moment the writing of the
  // first one ends (the queue is empty, the writing not yet marked done).
  for (let ticks = 0; ticks < 20; ticks++) {
    const chunks: string[] = [];
    const out = new TerminalOutput({
      write: (bytes) => {
        chunks.push(new TextDecoder().decode(bytes));
        return Promise.resolve(bytes.length);
      },
    });
    out.print("first");
    for (let tick = 0; tick < ticks; tick++) await Promise.resolve();
    out.print("last");
    await out.flush();
    assert.equal(chunks.join(""), "first\nlast\n", `the second line ${ticks} microtasks after the first`);
  }
});
