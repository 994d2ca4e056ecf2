// The repository's Markdown stays a set of guides whose links, commands and paragraphs hold: every relative
// link points to a file (and a heading, when it names one), every `deno task NAME` names a task, and no
// paragraph passes 120 words. The checker is tested on a fixture that breaks each rule once.
import assert from "node:assert/strict";
import { anchors, checkDocs, paragraphs, wordCount } from "./_docs_check.ts";

const ROOT = new URL("../", import.meta.url);
const FIXTURE = new URL("testdata/broken_docs/", import.meta.url);

Deno.test("every Markdown file: relative links resolve, each deno task names a task, no paragraph over 120 words", () => {
  assert.deepEqual(checkDocs(ROOT), []);
});

Deno.test("the docs check finds each broken link, unknown task and long paragraph of a fixture, and nothing else", () => {
  assert.deepEqual(checkDocs(FIXTURE), [
    "README.md: the link missing.md points to no file",
    "README.md: the link other.md#no-such-heading points to no heading of other.md",
    "README.md: the link #nowhere points to no heading of README.md",
    "README.md: `deno task --cwd sub gone` names no task",
    "README.md: `deno task unknown` names no task",
    'README.md: a paragraph of 121 words (at most 120): "This paragraph runs long on purpose: one two three four five…"',
  ]);
});

Deno.test("headings become GitHub's anchors: lower case, punctuation dropped, spaces as hyphens, repeats numbered", () => {
  const text =
    "# The `demo`: how it joins\n\n## Files\n\n```\n# not a heading\n```\n\n## Files\n\n### [Linked](x.md) title\n";
  assert.deepEqual([...anchors(text)], ["the-demo-how-it-joins", "files", "files-1", "linked-title"]);
});

Deno.test("paragraphs split as the before-stop hook splits them: fences out, list items apart, tables skipped", () => {
  const text = "One two.\n\n- item one\n- item two\n\n| a | b |\n\n```\ncode words here\n```\n\nLast words";
  assert.deepEqual(paragraphs(text).map(wordCount), [2, 3, 3, 2]);
});
