// Unit tests of the parts the integration tests cannot steer: the welcome check, the
// interpolation buffer, the clock estimate.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ClockSync, InterpBuffer, PROTOCOL_VERSION, Schema, World, checkWelcome, errorOfBye, errorOfRefusal } from "../dist/src/index.js";

test("the welcome check refuses another version or schema, naming both values", () => {
  const ok = { id: 1, tick_rate: 60, send_rate: 30, proto: PROTOCOL_VERSION, schema: "0123456789abcdef" };
  assert.equal(checkWelcome(ok, "0123456789abcdef"), undefined);
  const v = checkWelcome({ ...ok, proto: PROTOCOL_VERSION + 1 }, "0123456789abcdef");
  assert.equal(v.code, "version_mismatch");
  assert.deepEqual([v.host, v.client], [PROTOCOL_VERSION + 1, PROTOCOL_VERSION]);
  assert.equal(checkWelcome({ id: 1, tick_rate: 60, send_rate: 30 }, "x").code, "version_mismatch"); // unversioned host
  const s = checkWelcome({ ...ok, schema: "fedcba9876543210" }, "0123456789abcdef");
  assert.equal(s.code, "schema_mismatch");
  assert.deepEqual([s.host, s.client], ["fedcba9876543210", "0123456789abcdef"]);
  assert.match(s.message, /fedcba9876543210.*0123456789abcdef/);
});

const schema = Schema.parse({
  version: 1,
  types: [
    {
      id: 1,
      name: "T",
      fields: [
        { name: "F", kind: "float", bits: 15, maxq: 20000, min: -100, max: 100, prec: 0.01 },
        { name: "A", kind: "angle", bits: 10, maxq: 1023 },
        { name: "I", kind: "int", bits: 7, maxq: 100, min: 0, max: 100 },
        { name: "S", kind: "int", bits: 8, maxq: 255, min: 0, max: 255, teleport: true },
      ],
    },
  ],
});

function world(ents) {
  const w = new World(schema);
  for (const [id, vals] of ents) w.set(id, 1, vals);
  return w;
}

test("interpolation: floats linear, angles the short way, ints held, no blending across a teleport", () => {
  const b = new InterpBuffer(schema, 8);
  b.store(10, world([[1, [100, 1020, 10, 0]], [2, [0, 0, 0, 0]]]));
  b.store(20, world([[1, [201, 4, 90, 0]], [2, [1000, 0, 0, 1]], [3, [5, 5, 5, 5]]]));
  const out = new World(schema);
  assert.ok(b.sample(out, 15));
  assert.deepEqual(Array.from(out.get(1).values), [151, 0, 10, 0]); // 150.5 rounds up; 1020 → 1028 ≡ 4 passes 1024 ≡ 0
  assert.deepEqual(Array.from(out.get(2).values), [1000, 0, 0, 1]); // teleported: the newer version
  assert.deepEqual(Array.from(out.get(3).values), [5, 5, 5, 5]); // new: as it is
  b.sample(out, 12.5);
  assert.deepEqual(Array.from(out.get(1).values), [125, 1022, 10, 0]);
  b.sample(out, 5); // before the oldest: the oldest
  assert.deepEqual(Array.from(out.get(1).values), [100, 1020, 10, 0]);
  assert.ok(!out.has(3));
  b.sample(out, 99); // past the newest: the newest
  assert.deepEqual(Array.from(out.get(1).values), [201, 4, 90, 0]);
  assert.equal(b.store(15, world([])), false, "an older tick is not stored");
  const a = schema.type(1);
  assert.ok(Math.abs(a.value(1, 1023) - -(2 * Math.PI) / 1024) < 1e-12, "angles dequantize into [-π, π)");
});

test("clock sync keeps the lowest-RTT sample's offset; medians while warming up, then smoothing", () => {
  const c = new ClockSync();
  c.add(0, 10, 1000); // rtt 10: host = local + 995
  assert.ok(c.have);
  assert.equal(c.rtt, 10);
  assert.equal(c.offset, 995);
  c.add(100, 140, 1100); // rtt 40, offset 980: the rtt-10 sample still wins
  assert.equal(c.offset, 995);
  assert.equal(c.rtt, 10); // lower median of 10 and 40
  c.add(200, 202, 1198); // rtt 2, offset 997: within the slew limit, taken
  assert.equal(c.offset, 997);
  assert.deepEqual([c.rtt, c.jitter], [10, 8]); // medians of [2, 10, 40] and of [0, 8, 30]
  for (let i = 0; i < 13; i++) c.add(300 + 100 * i, 302 + 100 * i, 1299 + 100 * i); // the window fills with rtt 2
  assert.equal(c.rtt, 2);
  c.add(2000, 2010, 2999); // rtt 10 once the window is full: smoothed
  assert.equal(c.rtt, 2 + 8 / 8);
});

test("refusals and byes map to error codes", () => {
  assert.equal(errorOfRefusal("host_full", "full").code, "host_full");
  assert.equal(errorOfRefusal("busy", "").code, "busy");
  assert.equal(errorOfRefusal("bad_channel", "").code, "bad_channel");
  assert.equal(errorOfRefusal("closed", "").code, "server_closed");
  const unknown = errorOfRefusal("quota", "too many games");
  assert.deepEqual([unknown.code, unknown.detail], ["rejected", "quota"]);
  assert.equal(errorOfBye("kicked", "cheating").code, "kicked");
  assert.equal(errorOfBye(undefined, undefined).code, "connection_lost");
});
