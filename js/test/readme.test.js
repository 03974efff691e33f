// The README's JS example is js/examples/join.ts, which the type check compiles.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));

test("the README's JS example is examples/join.ts, verbatim", () => {
  const readme = readFileSync(root + "README.md", "utf8");
  const example = readFileSync(root + "js/examples/join.ts", "utf8");
  assert.ok(readme.includes("```ts\n" + example + "```\n"), "README.md's ```ts block differs from js/examples/join.ts");
});
