// Integration tests against real Go servers: the harness (js/test/harness, started
// with go run) runs the arena and an echo game behind one lobby on loopback; the
// client runs on Google's libwebrtc (@roamhq/wrtc) and Node's WebSocket.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import wrtc from "@roamhq/wrtc";
import { LobbyClient, Schema, VolleyError, connect } from "../dist/src/index.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const rtc = { RTCPeerConnection: wrtc.RTCPeerConnection };
const arenaSchema = Schema.parse(readFileSync(root + "examples/arena/schema/arena.json", "utf8"));
const ButtonRight = 8;

let harness, lines, env;

// request sends one request to the harness and returns its answer.
const queue = [];
function request(req) {
  return new Promise((resolve) => {
    queue.push(resolve);
    harness.stdin.write(JSON.stringify(req) + "\n");
  });
}

before(
  async () => {
    if (typeof WebSocket === "undefined") throw new Error("run node with --experimental-websocket (npm test does)");
    harness = spawn("go", ["run", "./js/test/harness"], { cwd: root, stdio: ["pipe", "pipe", "inherit"] });
    lines = createInterface({ input: harness.stdout });
    env = await new Promise((resolve, reject) => {
      harness.once("exit", (code) => reject(new Error(`harness exited (${code}) before it was ready`)));
      lines.once("line", (l) => resolve(JSON.parse(l)));
    });
    lines.on("line", (l) => queue.shift()?.(JSON.parse(l).result));
  },
  { timeout: 240_000 },
);

after(async () => {
  if (!harness) return;
  const exited = new Promise((r) => harness.once("exit", r));
  harness.stdin.end();
  await exited;
});

// waitFor resolves once cond() is true, re-checking whenever the session decodes a
// snapshot (the event the conditions depend on), for at most ms. what may be a
// function, called on a timeout to say what was awaited and what was seen.
function waitFor(s, what, cond, ms = 20_000) {
  return new Promise((resolve, reject) => {
    let off = () => {};
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${typeof what === "function" ? what() : what}`));
    }, ms);
    const check = async () => {
      let ok;
      try {
        ok = await cond();
      } catch (e) {
        ok = false;
        if (!(e instanceof TypeError)) throw e;
      }
      if (ok) {
        clearTimeout(timer);
        off();
        resolve();
      }
    };
    off = s.onSnapshot(() => void check());
    void check();
  });
}

async function join(room, schema) {
  const lc = await LobbyClient.connect(env.lobby, { WebSocket });
  await lc.join(room);
  try {
    const s = await connect({ schema, signaler: lc.hostSignaler(), rtc, iceServers: lc.iceServers });
    return { lc, s };
  } catch (e) {
    lc.close();
    throw e;
  }
}

// every calls fn every tick-ish interval until the returned stop is called.
function every(ms, fn) {
  const t = setInterval(fn, ms);
  return () => clearInterval(t);
}

test("joins the arena, walks right, and converges to the host's state", { timeout: 60_000 }, async () => {
  const { lc, s } = await join(env.arena, arenaSchema);
  try {
    assert.ok(s.id > 0, "a client ID");
    assert.equal(s.tickRate, 60);
    await waitFor(s, "our player in a snapshot", () => s.latest()?.world.has(s.id));
    const start = s.latest().world.read(s.id);
    // Hold "right" for about 40 ticks: the arena input is seq u32 LE, buttons, aim u16 LE.
    const input = (buttons) => Uint8Array.of(0, 0, 0, 0, buttons, 0, 0);
    let sent = 0;
    let last = 0;
    const stop = every(16, () => {
      if (sent < 60) {
        last = s.sendInput(input(sent++ < 40 ? ButtonRight : 0));
        return;
      }
      // On a loaded machine the last input may arrive after its tick ran; the host
      // drops it as late, and a snapshot past that tick says so. Stand again then.
      const tick = s.latest()?.tick;
      if (!(s.lastAppliedInput() >= last) && tick > last) last = s.sendInput(input(0));
    });
    try {
      const seen = () =>
        `the host to apply our inputs: ${sent} sent, the last for tick ${last}, host applied ${s.lastAppliedInput()}, ` +
        `stamping now for ${s.inputTick()}, clock ${JSON.stringify(s.clock())}, stats ${JSON.stringify(s.stats())}`;
      await waitFor(s, seen, () => sent >= 60 && s.lastAppliedInput() >= last);
    } finally {
      stop();
    }
    // The player stands still now; the host's position and ours must agree exactly.
    let host;
    await waitFor(s, "our view to match the host's", async () => {
      const sum = await request({ op: "arena" });
      host = sum.Players.find((p) => p.ID === s.id);
      const me = s.latest().world.read(s.id);
      return host && Math.abs(me.X - host.Pos.X) < 1e-9 && Math.abs(me.Y - host.Pos.Y) < 1e-9;
    });
    assert.ok(host.Pos.X > start.X + 2, `moved from ${start.X} to ${host.Pos.X}`);
    const st = s.stats();
    assert.ok(st.snapshots > 10 && st.bytesIn > 0 && st.packetsOut > 40, JSON.stringify(st));
    assert.equal(st.drops.snapshot_decode, 0);
    assert.ok(s.clock().synced, "clock synced");
    assert.ok(s.interpolate()?.world.has(s.id), "interpolated world holds our player");
  } finally {
    await s.close();
    lc.close();
  }
});

test("a client of another game is refused at once with both fingerprints", { timeout: 60_000 }, async () => {
  const echoSchema = Schema.parse(env.echoSchema);
  const err = await join(env.arena, echoSchema).then(
    () => assert.fail("connected to a host with another schema"),
    (e) => e,
  );
  assert.ok(err instanceof VolleyError, String(err));
  assert.equal(err.code, "schema_mismatch");
  assert.equal(err.host, env.arenaFingerprint);
  assert.equal(err.client, echoSchema.fingerprint);
  assert.match(err.message, new RegExp(env.arenaFingerprint));
});

test("a full host refuses at once through the lobby (reject signal)", { timeout: 60_000 }, async () => {
  const err = await join(env.full, Schema.parse(env.echoSchema)).then(
    () => assert.fail("connected to a full host"),
    (e) => e,
  );
  assert.ok(err instanceof VolleyError, String(err));
  assert.equal(err.code, "host_full", err.message);
  assert.equal(err.detail, "host_full");
});

test("commands arrive exactly once and in order; events come back in order", { timeout: 60_000 }, async () => {
  const { lc, s } = await join(env.echo, Schema.parse(env.echoSchema));
  try {
    const events = [];
    const all = new Promise((resolve) =>
      s.onEvent((e) => {
        events.push(e);
        if (events.length === 200) resolve();
      }),
    );
    for (let i = 0; i < 200; i++) s.send({ seq: i });
    await all;
    assert.deepEqual(
      events.map((e) => [e.seq, e.n]),
      Array.from({ length: 200 }, (_, i) => [i, i + 1]),
    );
    const got = (await request({ op: "echo" }))[s.id];
    assert.deepEqual(got.commands, Array.from({ length: 200 }, (_, i) => i));
    await waitFor(s, "N = 200 in a snapshot", () => s.latest().world.read(s.id).N === 200);
  } finally {
    await s.close();
    lc.close();
  }
});

test("inputs are applied once each on their tick; the world converges", { timeout: 60_000 }, async () => {
  const { lc, s } = await join(env.echo, Schema.parse(env.echoSchema));
  try {
    await waitFor(s, "our entity", () => s.latest()?.world.has(s.id));
    let n = 0;
    const ticks = new Set(); // a second input stamped for the same tick replaces the first
    const stop = every(20, () => {
      if (n < 30) {
        ticks.add(s.sendInput(Uint8Array.of(5)));
        n++;
      }
    });
    try {
      await waitFor(s, "the host to apply or count late every input", async () => {
        if (n < 30) return false;
        const h = (await request({ op: "echo" }))[s.id];
        return h.inputs + h.late + h.future >= ticks.size;
      });
    } finally {
      stop();
    }
    const host = (await request({ op: "echo" }))[s.id];
    await waitFor(s, "our world to show the host's X", () => Math.abs(s.latest().world.read(s.id).X - host.x) < 1e-9);
    // Each input was applied once (X = 5 × applied), or counted late by the host: a
    // loaded machine may deliver some after their tick ran, and none may be lost.
    assert.equal(host.x, 5 * host.inputs);
    assert.equal(host.inputs + host.late, ticks.size, `${host.inputs} applied + ${host.late} late (${host.future} too far ahead) of ${ticks.size} ticks stamped`);
    assert.ok(host.inputs > 0, "no input applied");
  } finally {
    await s.close();
    lc.close();
  }
});

test("bye reasons: kicked by the host; a client that closes leaves cleanly", { timeout: 60_000 }, async () => {
  const a = await join(env.echo, Schema.parse(env.echoSchema));
  const closed = [];
  a.s.onClose((e) => closed.push(e));
  assert.equal(await request({ op: "kick", id: a.s.id, reason: "cheating" }), "ok");
  const why = await a.s.closed;
  assert.equal(why.code, "kicked");
  assert.match(why.message, /cheating/);
  assert.equal(closed.length, 1);
  assert.throws(() => a.s.send({ seq: 1 }), (e) => e.code === "not_connected");
  a.lc.close();

  const b = await join(env.echo, Schema.parse(env.echoSchema));
  await b.s.close();
  assert.equal((await b.s.closed).code, "closed");
  b.lc.close();
  let left;
  for (let i = 0; i < 200 && !left; i++) {
    left = (await request({ op: "echo" }))[b.s.id]?.left;
    if (!left) await new Promise((r) => setTimeout(r, 50)); // the host's tick reports it; no event reaches us
  }
  assert.match(left ?? "", /client left/);
});

test("a leaving client touches its channels no more after the bye", { timeout: 60_000 }, async () => {
  // libwebrtc's Node binding crashes the process when send or readyState races a
  // channel's close on its signaling thread, and the host closes the channels as soon
  // as it reads the bye. So after the bye nothing may use them. The bye is held back
  // here until three more snapshots have arrived, each of which would be acked.
  let byeSent = false,
    after = 0,
    release;
  const snapshotsSinceBye = new Promise((r) => (release = r));
  class Recording extends wrtc.RTCPeerConnection {
    createDataChannel(label, init) {
      const ch = super.createDataChannel(label, init);
      const send = ch.send.bind(ch);
      let proto = ch;
      while (proto && !Object.getOwnPropertyDescriptor(proto, "readyState")) proto = Object.getPrototypeOf(proto);
      const readyState = Object.getOwnPropertyDescriptor(proto, "readyState").get;
      Object.defineProperty(ch, "readyState", {
        get() {
          if (byeSent) after++;
          return readyState.call(ch);
        },
      });
      let seen = 0;
      ch.addEventListener("message", () => {
        if (byeSent && ++seen === 3) release();
      });
      ch.send = (m) => {
        if (byeSent) after++;
        if (m[0] !== 0x13) return send(m); // Kind.bye
        byeSent = true;
        void snapshotsSinceBye.then(() => {
          try {
            send(m);
          } catch {
            // The session gave up waiting and closed the connection.
          }
        });
      };
      return ch;
    }
  }
  const lc = await LobbyClient.connect(env.lobby, { WebSocket });
  try {
    await lc.join(env.echo);
    const s = await connect({ schema: Schema.parse(env.echoSchema), signaler: lc.hostSignaler(), rtc: { RTCPeerConnection: Recording }, iceServers: lc.iceServers });
    await waitFor(s, "our entity", () => s.latest()?.world.has(s.id));
    await s.close();
    assert.ok(byeSent, "the bye was sent");
    assert.equal(after, 0, "channel sends and readyState reads after the bye");
  } finally {
    lc.close();
  }
});

test("rooms carry their game; list and quickJoin filter on it", { timeout: 60_000 }, async () => {
  const lc = await LobbyClient.connect(env.lobby, { WebSocket });
  try {
    const arena = await lc.list({ game: "volley-arena", gameVersion: "1" });
    assert.deepEqual(arena.map((r) => r.id), [env.arena], "the arena's rooms");
    assert.equal(arena[0].game, "volley-arena");
    const first = await lc.listPage({ limit: 1 });
    assert.equal(first.rooms.length, 1);
    assert.ok(first.next, "a next page");
    const second = await lc.listPage({ limit: 1, cursor: first.next });
    assert.notEqual(second.rooms[0].id, first.rooms[0].id);
    await assert.rejects(lc.quickJoin({ game: "no-such-game" }), (e) => e.detail === "no_room_available");
    const r = await lc.quickJoin({ game: "volley-arena", gameVersion: "1" });
    assert.equal(r.id, env.arena);
  } finally {
    lc.close();
  }
});
