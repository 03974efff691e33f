// Builds the one minified ESM bundle of the client (msgpack included) and checks its
// size: `npm run bundle` writes js/dist/volley.min.js and the copy the arena serves
// (examples/arena/server/static/js/volley.js); `npm run size` (CI) builds in memory and
// fails if the bundle is over budget or the arena's copy is stale.
import { build } from "esbuild";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

const BUDGET = 25 * 1024; // bytes, minified and gzipped
const here = fileURLToPath(new URL("..", import.meta.url));
const served = here + "../examples/arena/server/static/js/volley.js";
const check = process.argv.includes("--check");

const pkg = JSON.parse(readFileSync(here + "package.json", "utf8"));
const out = await build({
  entryPoints: [here + "src/index.ts"],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2020",
  platform: "browser",
  legalComments: "none",
  banner: { js: `// ${pkg.name} ${pkg.version}, bundled with @msgpack/msgpack by js/scripts/bundle.mjs. Do not edit.` },
  write: false,
});
const code = out.outputFiles[0].contents;
const gz = gzipSync(code, { level: 9 }).length;
console.log(`bundle: ${code.length} bytes minified, ${gz} bytes gzipped (budget ${BUDGET})`);
let ok = true;
if (gz > BUDGET) {
  console.error(`bundle: ${gz} bytes gzipped is over the budget of ${BUDGET}`);
  ok = false;
}
if (check) {
  let cur = "";
  try {
    cur = readFileSync(served, "utf8");
  } catch {}
  if (cur !== Buffer.from(code).toString("utf8")) {
    console.error(`bundle: ${served} is stale: run npm run bundle in js/`);
    ok = false;
  }
} else {
  mkdirSync(here + "dist", { recursive: true });
  writeFileSync(here + "dist/volley.min.js", code);
  writeFileSync(served, code);
}
process.exit(ok ? 0 : 1);
