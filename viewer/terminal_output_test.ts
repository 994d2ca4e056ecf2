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
