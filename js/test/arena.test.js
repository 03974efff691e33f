// The JS arena page predicts its own player with a port of the Go movement rules
// (examples/arena/server/static/js/game.js); these vectors come from game.MovePlayer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Predictor, encodeInput, movePlayer, quantizeAim } from "../../examples/arena/server/static/js/game.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const v = JSON.parse(readFileSync(root + "testdata/protocol/arena-movement.json", "utf8"));

test("movement matches game.MovePlayer exactly on every step", () => {
  let steps = 0;
  v.walks.forEach((w, i) => {
    const p = { x: w.start[0], y: w.start[1], aim: 0, alive: true };
    w.steps.forEach(([buttons, aim, x, y], k) => {
      movePlayer(p, { buttons, aim }, w.dt);
      assert.ok(p.x === x && p.y === y, `walk ${i} step ${k}: at (${p.x}, ${p.y}), Go has (${x}, ${y})`);
      steps++;
    });
  });
  assert.ok(steps >= 6000);
});

test("inputs encode as game.AppendInput", () => {
  for (const c of v.inputs) {
    assert.equal(Buffer.from(encodeInput(c)).toString("hex"), c.hex, JSON.stringify(c));
    assert.equal(quantizeAim(c.aim), c.quantized);
  }
});

test("a predictor replays unapplied inputs on top of the host's state", () => {
  const w = v.walks[0];
  const pr = new Predictor(w.dt);
  pr.reconcile({ x: w.start[0], y: w.start[1], aim: 0, alive: true, spawn: 1, lastInput: 0 });
  w.steps.forEach(([buttons, aim], k) => pr.predictInput({ seq: k + 1, buttons, aim }));
  const end = w.steps[w.steps.length - 1];
  assert.deepEqual([pr.player.x, pr.player.y], [end[2], end[3]]);
  // The host has applied the first 100: the replay of the other 50 lands in the same place.
  const mid = w.steps[99];
  pr.reconcile({ x: mid[2], y: mid[3], aim: 0, alive: true, spawn: 1, lastInput: 100 });
  assert.deepEqual([pr.player.x, pr.player.y], [end[2], end[3]]);
  assert.equal(pr.corrections, 0);
  assert.equal(pr.pending.length, 50);
});
