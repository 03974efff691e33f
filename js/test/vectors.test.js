// Cross-language vectors: the Go tests generate testdata/protocol (and check it is
// fresh); this file checks that the TypeScript client reads every vector exactly as
// the Go code does.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  Decoder,
  Kind,
  PROTOCOL_VERSION,
  Schema,
  SnapshotError,
  decodeCopies,
  decodeMsgpack,
  decodePong,
  decodeSnapshot,
  encodeCopies,
  encodePing,
  encodeUpdate,
  sha256,
  hex,
} from "../dist/src/index.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const vectors = (name) => JSON.parse(readFileSync(root + "testdata/protocol/" + name, "utf8"));
const unhex = (s) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));

// worldHash is FNV-1a (32 bits) over id u32 LE, type u8, values u32 LE, ascending IDs.
function worldHash(w) {
  let h = 0x811c9dc5;
  const byte = (b) => {
    h = Math.imul(h ^ b, 0x01000193) >>> 0;
  };
  const u32 = (v) => {
    for (let i = 0; i < 4; i++) byte((v >>> (8 * i)) & 0xff);
  };
  w.forEach((id, type, values) => {
    u32(id);
    byte(type);
    for (const v of values) u32(v);
  });
  return h.toString(16).padStart(8, "0");
}

function dump(w) {
  const out = [];
  w.forEach((id, type, values) => out.push([id, type, Array.from(values)]));
  return out;
}

function replay(c) {
  const schema = Schema.parse(c.schema);
  assert.equal(schema.fingerprint, c.fingerprint, `${c.name}: fingerprint`);
  assert.equal(schema.canonical, JSON.stringify(c.schema), `${c.name}: canonical descriptor`);
  const dec = new Decoder(schema);
  c.steps.forEach((st, i) => {
    const where = `${c.name}, step ${i}`;
    let info, err;
    try {
      info = dec.decode(unhex(st.packet));
    } catch (e) {
      assert.ok(e instanceof SnapshotError, `${where}: threw ${e}`);
      err = e;
    }
    if (st.error) {
      assert.equal(err?.code, st.error, `${where}: error ${err?.message ?? "none"}`);
    } else {
      assert.equal(err, undefined, `${where}: unexpected ${err?.message}`);
      assert.deepEqual(
        { seq: info.seq, tick: info.tick, entities: info.entities, removals: info.removals, applied: info.applied, stale: info.stale },
        { stale: false, ...st.info },
        where,
      );
    }
    const a = dec.ack();
    assert.deepEqual([a.latest, a.mask], st.ack, `${where}: ack`);
    if (st.world) assert.deepEqual(dump(dec.world), st.world, `${where}: world`);
    assert.equal(worldHash(dec.world), st.hash, `${where}: world hash`);
  });
  return c.steps.length;
}

test("sha256 matches known digests", () => {
  const enc = new TextEncoder();
  assert.equal(hex(sha256(enc.encode(""))), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(hex(sha256(enc.encode("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const long = enc.encode("a".repeat(1000));
  assert.equal(hex(sha256(long)), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
});

test("snapshot golden vectors decode as in Go", () => {
  const f = vectors("snapshot-golden.json");
  let n = 0;
  for (const c of f.cases) n += replay(c);
  assert.ok(n > 250, `only ${n} steps`);
});

test("a long lossy, reordered stream from the Go encoder decodes as in Go", () => {
  const f = vectors("snapshot-stream.json");
  const n = replay(f.cases[0]);
  assert.ok(n > 250, `only ${n} steps`);
});

test("the arena's exported schema has the fingerprint Go computed", () => {
  const json = readFileSync(root + "examples/arena/schema/arena.json", "utf8");
  const dts = readFileSync(root + "examples/arena/schema/arena.d.ts", "utf8");
  const want = dts.match(/export type Fingerprint = "([0-9a-f]{16})"/)[1];
  const s = Schema.parse(json);
  assert.equal(s.fingerprint, want);
  assert.equal(s.canonical + "\n", json);
  assert.deepEqual(s.types().map((t) => t.name), ["PlayerEntity", "ProjectileEntity"]);
});

test("random and truncated packets never throw anything but SnapshotError", () => {
  const f = vectors("snapshot-golden.json");
  const c = f.cases.find((c) => c.name === "mutants");
  const schema = Schema.parse(c.schema);
  let seed = 1;
  const rnd = (n) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const good = c.steps.filter((s) => !s.error).map((s) => unhex(s.packet));
  let rejected = 0;
  for (let i = 0; i < 20000; i++) {
    const dec = new Decoder(schema);
    for (const p of good.slice(0, 3)) dec.decode(p);
    let p;
    switch (i % 3) {
      case 0: // random bytes, sometimes with a valid header
        p = Uint8Array.from({ length: rnd(80) }, () => rnd(256));
        if (p.length > 3 && rnd(2)) (p[0] = 1), (p[1] = 1 + rnd(255));
        break;
      case 1: {
        const src = good[rnd(good.length)];
        p = src.slice(0, rnd(src.length + 1));
        break;
      }
      case 2: {
        p = good[rnd(good.length)].slice();
        p[1 + rnd(p.length - 1)] ^= 1 << rnd(8);
      }
    }
    try {
      dec.decode(p);
    } catch (e) {
      assert.ok(e instanceof SnapshotError, `packet ${hex(p)} threw ${e}`);
      rejected++;
    }
  }
  assert.ok(rejected > 1000);
});

test("message vectors: fixed layouts and msgpack as in Go", () => {
  const f = vectors("messages.json");
  assert.equal(f.protocol, PROTOCOL_VERSION);
  assert.equal(Schema.parse(f.schema).fingerprint, f.schema_fingerprint);
  const schema = Schema.parse(f.schema);
  const dec = new Decoder(schema);
  let seen = 0;
  for (const m of f.messages) {
    const b = unhex(m.hex);
    const d = m.decoded;
    if (m.channel === "reliable") {
      assert.ok([Kind.welcome, Kind.command, Kind.event, Kind.bye, Kind.ack].includes(b[0]), m.name);
      assert.deepEqual(plain(decodeMsgpack(b.subarray(1))), d, m.name);
      seen++;
      continue;
    }
    switch (b[0]) {
      case Kind.ping:
        assert.equal(m.hex, Buffer.from(encodePing(d.seq, d)).toString("hex"), m.name);
        break;
      case Kind.pong:
        assert.deepEqual(decodePong(b), { seq: d.seq, clientTime: d.clientTime, hostTime: d.hostTime, recv: d.recv, lost: d.lost }, m.name);
        break;
      case Kind.update: {
        const inputs = d.inputs.map((x) => ({ tick: x.tick, data: unhex(x.data) }));
        assert.equal(Buffer.from(encodeUpdate(d.seq, d.ack.latest, d.ack.mask, inputs)).toString("hex"), m.hex, m.name);
        break;
      }
      case Kind.commandCopies:
      case Kind.eventCopies: {
        const c = decodeCopies(b);
        assert.deepEqual({ kind: c.kind, seq: c.seq, acked: c.acked, first: c.first }, { kind: d.kind, seq: d.seq, acked: d.acked, first: d.first }, m.name);
        assert.deepEqual(c.bodies.map((x) => plain(decodeMsgpack(x))), d.entries, m.name);
        assert.equal(Buffer.from(encodeCopies(c)).toString("hex"), m.hex, m.name);
        assert.equal(decodeCopies(b.subarray(0, b.length - 1)), undefined, m.name);
        break;
      }
      case Kind.snapshot: {
        const s = decodeSnapshot(b);
        assert.equal(s.seq, d.seq, m.name);
        assert.equal(s.lastInput, d.lastInput, m.name);
        const info = dec.decode(s.packet);
        assert.deepEqual({ seq: info.seq, tick: info.tick, entities: info.entities, removals: info.removals }, d.packet, m.name);
        break;
      }
      default:
        assert.fail(`${m.name}: kind ${b[0]}`);
    }
    seen++;
  }
  assert.equal(seen, f.messages.length);
  // The worked example's ball ends at X = 1.55: quantized (1.55 + 100) / 0.01.
  assert.equal(dec.world.get(1).values[0], 10155);
  assert.ok(Math.abs(dec.world.read(1).X - 1.55) < 1e-9);
});

// plain turns msgpack's decoded values into what JSON.parse gives.
function plain(v) {
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), plain(x)]));
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}
