// The arena's browser client in plain JavaScript, built only on the Volley JS client
// (volley.js, the bundle of js/): the same drawing, controls and network panel as the
// wasm client. It joins the lobby room, connects over WebRTC, predicts the local
// player with the port of the Go movement rules (game.js), interpolates everyone
// else, and keeps window.arenaState up to date for players and tests.
import { LobbyClient, Schema, VolleyError, connect } from "./volley.js";
import * as game from "./game.js";

// config: window.arenaConfig (written by the server), overridden by ?lobby=&room=&name=.
function readConfig() {
  const ac = window.arenaConfig || {};
  const q = new URLSearchParams(location.search);
  const c = {
    lobby: q.get("lobby") ?? ac.lobby ?? "",
    room: q.get("room") ?? ac.room ?? "",
    name: q.get("name") ?? "",
  };
  if (!c.lobby) c.lobby = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
  if (!c.name) c.name = "js-" + String(Math.floor(Math.random() * 1000)).padStart(3, "0");
  return c;
}

const cfg = readConfig();
const canvas = document.getElementById("arena");
const statusEl = document.getElementById("status");
const ctx = canvas.getContext("2d");
window.arenaState = { connected: false, playerId: 0, x: 0, y: 0, status: "loading", client: "js" };

// ---- input ----

const held = new Set();
const mouse = { down: false, x: 0, y: 0, has: false };
let keydowns = 0;
const gameKeys = new Set(["KeyW", "KeyA", "KeyS", "KeyD", "ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Space"]);
addEventListener("keydown", (e) => {
  if (gameKeys.has(e.code)) e.preventDefault();
  held.add(e.code);
  keydowns++;
});
addEventListener("keyup", (e) => held.delete(e.code));
addEventListener("blur", () => {
  held.clear(); // keys released while unfocused never send keyup
  mouse.down = false;
});
canvas.addEventListener("mousemove", (e) => Object.assign(mouse, { x: e.clientX, y: e.clientY, has: true }));
canvas.addEventListener("mousedown", (e) => {
  if (e.button === 0) Object.assign(mouse, { down: true, x: e.clientX, y: e.clientY, has: true });
  canvas.focus();
});
addEventListener("mouseup", (e) => {
  if (e.button === 0) mouse.down = false;
});
canvas.addEventListener("contextmenu", (e) => e.preventDefault());

function buttons() {
  const h = (a, b) => held.has(a) || held.has(b);
  let b = 0;
  if (h("KeyW", "ArrowUp")) b |= game.ButtonUp;
  if (h("KeyS", "ArrowDown")) b |= game.ButtonDown;
  if (h("KeyA", "ArrowLeft")) b |= game.ButtonLeft;
  if (h("KeyD", "ArrowRight")) b |= game.ButtonRight;
  if (held.has("Space") || mouse.down) b |= game.ButtonFire;
  return b;
}

// ---- a session: the connection plus prediction, names and the kill feed ----

class ArenaSession {
  constructor(s) {
    this.s = s;
    this.self = s.id;
    this.pred = new game.Predictor(1 / s.tickRate);
    this.names = new Map();
    this.feed = [];
    this.lastTick = -1;
    this.lastInput = { seq: 0, buttons: 0, aim: 0 };
    this.stamped = 0;
    this.hasStamp = false;
    s.onEvent((n) => this.notice(n));
    s.onSnapshot(() => this.reconcile());
  }

  notice(n) {
    if (!n || typeof n !== "object") return;
    if (n.names) {
      this.names = new Map(Object.entries(n.names).map(([id, name]) => [Number(id), String(name)]));
    }
    if (n.kill) {
      this.feed.push(`${this.name(n.kill.a)} ✕ ${this.name(n.kill.v)}`);
      if (this.feed.length > 5) this.feed.shift();
    }
  }

  name(id) {
    return this.names.get(id) ?? `player${id}`;
  }

  // reconcile restarts the prediction from the host's newest state of our player.
  reconcile() {
    const latest = this.s.latest();
    if (!latest || latest.tick === this.lastTick) return;
    this.lastTick = latest.tick;
    const e = latest.world.read(this.self);
    if (!e) return;
    const applied = this.s.lastAppliedInput();
    this.pred.reconcile({
      x: game.roundPos(e.X),
      y: game.roundPos(e.Y),
      aim: e.Aim,
      alive: e.Alive,
      spawn: e.Spawn,
      health: e.Health,
      lastInput: applied === undefined ? 0 : applied + 1,
    });
  }

  // input sends this tick's input (at most one per host tick) and predicts it; ticks
  // without one are predicted as the host plays them (the previous input, at most
  // MaxInputRepeat times).
  input(b, aim) {
    const s = this.s;
    if (this.hasStamp && ((s.inputTick() - this.stamped) | 0) <= 0) return;
    const inp = { seq: 0, buttons: b, aim: game.quantizeAim(aim) };
    const tick = s.sendInput(game.encodeInput(inp));
    if (this.hasStamp && ((tick - this.stamped) | 0) > 1) {
      for (let k = this.stamped + 1; k !== tick && k - this.stamped <= game.MaxInputRepeat; k++) {
        this.pred.predictInput({ ...this.lastInput, seq: k + 1 });
      }
    }
    inp.seq = tick + 1;
    this.pred.predictInput(inp);
    this.lastInput = inp;
    this.stamped = tick;
    this.hasStamp = true;
  }

  // frame assembles what to draw: everyone interpolated, our player predicted.
  frame(frameDt) {
    const f = { players: [], projectiles: [], feed: this.feed.slice(), status: "", connected: false, self: this.self };
    const iv = this.s.interpolate();
    if (iv) {
      iv.world.forEach((id, type) => {
        const e = iv.world.read(id);
        if (type === game.TypePlayer) {
          const p = { id, name: this.name(id), x: e.X, y: e.Y, aim: e.Aim, health: e.Health, kills: e.Kills, deaths: e.Deaths, alive: e.Alive, respawnIn: e.Respawn / 10, local: false };
          if (id === this.self && this.pred.synced) {
            const rp = this.pred.renderPos(frameDt);
            Object.assign(p, { x: rp.x, y: rp.y, aim: this.lastInput.aim, alive: this.pred.player.alive, local: true });
            p.px = this.pred.player.x;
            p.py = this.pred.player.y;
          }
          f.players.push(p);
        } else if (type === game.TypeProjectile) {
          f.projectiles.push({ x: e.X, y: e.Y, owner: e.Owner });
        }
      });
    }
    f.connected = !this.s.error && this.pred.synced;
    if (this.s.error) f.status = "disconnected: " + this.s.error.message;
    else if (!f.connected) f.status = "waiting for the first snapshot…";
    const st = this.s.stats();
    f.net = {
      rtt: st.rtt,
      jitter: st.jitter,
      lossDown: st.lossIn,
      lossUp: st.lossOut,
      snapshotRate: st.snapshotsPerSec,
      kbpsDown: (st.bytesInPerSec * 8) / 1000,
      kbpsUp: (st.bytesOutPerSec * 8) / 1000,
      pending: this.pred.pending.length,
      corrections: this.pred.corrections,
    };
    return f;
  }
}

// ---- drawing (the wasm client's renderer, in JS) ----

const sidebarWidth = 230;
const view = { w: 0, h: 0, dpr: 0, scale: 1, ox: 0, oy: 0, side: 0, feedY: 0 };

function resize() {
  const w = innerWidth,
    h = innerHeight,
    dpr = devicePixelRatio > 0 ? devicePixelRatio : 1;
  if (w !== view.w || h !== view.h || dpr !== view.dpr) {
    Object.assign(view, { w, h, dpr });
    canvas.width = Math.floor(w * dpr);
    canvas.height = Math.floor(h * dpr);
  }
  const margin = 16;
  view.side = w >= 900 ? sidebarWidth + margin : 0;
  view.scale = Math.max(1, Math.min((w - 2 * margin - view.side) / game.Width, (h - 2 * margin) / game.Height));
  view.ox = (w - view.side - game.Width * view.scale) / 2;
  view.oy = (h - game.Height * view.scale) / 2;
}

const panelX = () => view.w - sidebarWidth - 12;
const px = (x, y) => [view.ox + x * view.scale, view.oy + y * view.scale];
const playerColor = (id, light) => `hsl(${Math.round((id * 137.508) % 360)},70%,${light}%)`;
const healthColor = (h) => (h > 60 ? "#3fb950" : h > 30 ? "#d29922" : "#f85149");

function draw(f) {
  const c = ctx,
    s = view.scale;
  c.setTransform(view.dpr, 0, 0, view.dpr, 0, 0);
  c.fillStyle = "#0d1117";
  c.fillRect(0, 0, view.w, view.h);
  c.fillStyle = "#161b22";
  c.fillRect(view.ox, view.oy, game.Width * s, game.Height * s);
  c.strokeStyle = "#1f2630";
  c.lineWidth = 1;
  c.beginPath();
  for (let x = 4; x < game.Width; x += 4) {
    c.moveTo(view.ox + x * s, view.oy);
    c.lineTo(view.ox + x * s, view.oy + game.Height * s);
  }
  for (let y = 4; y < game.Height; y += 4) {
    c.moveTo(view.ox, view.oy + y * s);
    c.lineTo(view.ox + game.Width * s, view.oy + y * s);
  }
  c.stroke();
  c.strokeStyle = "#3d4a5c";
  c.lineWidth = 2;
  c.strokeRect(view.ox, view.oy, game.Width * s, game.Height * s);
  c.fillStyle = "#30394a";
  for (const o of game.Obstacles) c.fillRect(view.ox + o.x * s, view.oy + o.y * s, o.w * s, o.h * s);

  for (const p of f.projectiles) {
    const [x, y] = px(p.x, p.y);
    c.fillStyle = playerColor(p.owner, 75);
    c.beginPath();
    c.arc(x, y, Math.max(2, game.ProjectileRadius * s * 1.4), 0, 2 * Math.PI);
    c.fill();
  }

  c.textAlign = "center";
  c.font = `${Math.floor(Math.max(10, s * 0.55))}px system-ui, sans-serif`;
  for (const p of f.players) {
    const [x, y] = px(p.x, p.y);
    const rad = game.PlayerRadius * s;
    if (!p.alive) {
      c.fillStyle = "#8b949e";
      c.fillText(`${p.name} respawns in ${p.respawnIn.toFixed(1)}s`, x, y);
      continue;
    }
    c.fillStyle = playerColor(p.id, 58);
    c.beginPath();
    c.arc(x, y, rad, 0, 2 * Math.PI);
    c.fill();
    if (p.local) {
      c.strokeStyle = "#ffffff";
      c.lineWidth = 2;
      c.stroke();
    }
    c.strokeStyle = "#e6edf3";
    c.lineWidth = Math.max(2, s * 0.18);
    c.beginPath();
    c.moveTo(x, y);
    c.lineTo(x + Math.cos(p.aim) * rad * 1.7, y + Math.sin(p.aim) * rad * 1.7);
    c.stroke();
    const bw = rad * 2.4,
      bh = Math.max(3, s * 0.18);
    const bx = x - bw / 2,
      by = y - rad - bh - 4;
    c.fillStyle = "#3a1d1d";
    c.fillRect(bx, by, bw, bh);
    c.fillStyle = healthColor(p.health);
    c.fillRect(bx, by, (bw * p.health) / game.MaxHealth, bh);
    c.fillStyle = "#e6edf3";
    c.fillText(p.name, x, by - 4);
  }
  drawScoreboard(f);
  drawNetPanel(f);
  drawFeed(f);
}

function panel(x, y, w, h) {
  ctx.fillStyle = "rgba(1,4,9,0.72)";
  ctx.fillRect(x, y, w, h);
}

function drawScoreboard(f) {
  const c = ctx;
  const board = f.players.slice().sort((a, b) => b.kills - a.kills || a.deaths - b.deaths || a.id - b.id);
  const line = 17,
    w = sidebarWidth,
    h = 26 + line * board.length;
  const x = panelX(),
    y = 12;
  panel(x, y, w, h);
  view.feedY = y + h + 22;
  c.font = "bold 13px system-ui, sans-serif";
  c.fillStyle = "#e6edf3";
  c.textAlign = "left";
  c.fillText("Player", x + 10, y + 18);
  c.textAlign = "right";
  c.fillText("K", x + w - 48, y + 18);
  c.fillText("D", x + w - 12, y + 18);
  c.font = "13px system-ui, sans-serif";
  board.forEach((p, i) => {
    const by = y + 18 + line * (i + 1);
    c.fillStyle = playerColor(p.id, 65);
    c.textAlign = "left";
    c.fillText(p.local ? p.name + " (you)" : p.name, x + 10, by);
    c.textAlign = "right";
    c.fillStyle = "#e6edf3";
    c.fillText(String(p.kills), x + w - 48, by);
    c.fillText(String(p.deaths), x + w - 12, by);
  });
}

function drawNetPanel(f) {
  const c = ctx,
    n = f.net;
  if (!n) return;
  const lines = [
    `rtt ${Math.round(n.rtt)} ms  jitter ${n.jitter.toFixed(1)} ms`,
    `loss down ${(n.lossDown * 100).toFixed(1)}%  up ${(n.lossUp * 100).toFixed(1)}%`,
    `snapshots ${n.snapshotRate.toFixed(0)}/s`,
    `kbit/s down ${n.kbpsDown.toFixed(1)}  up ${n.kbpsUp.toFixed(1)}`,
    `unacked inputs ${n.pending}  fixes ${n.corrections}`,
  ];
  const line = 16,
    w = sidebarWidth,
    h = 10 + line * lines.length;
  const x = view.side === 0 ? 12 : panelX(),
    y = view.h - h - 12;
  panel(x, y, w, h);
  c.font = "12px ui-monospace, monospace";
  c.textAlign = "left";
  c.fillStyle = "#8b949e";
  lines.forEach((l, i) => c.fillText(l, x + 8, y + line * (i + 1)));
  if (view.side > 0) {
    c.font = "12px system-ui, sans-serif";
    c.fillStyle = "#6e7681";
    c.fillText("WASD or arrows: move   mouse: aim", x + 2, y - 26);
    c.fillText("click or space: shoot   (JS client)", x + 2, y - 10);
  }
}

function drawFeed(f) {
  const c = ctx;
  c.font = "13px system-ui, sans-serif";
  c.textAlign = "left";
  let x = panelX() + 4,
    y = view.feedY;
  if (view.side === 0) (x = 14), (y = 24);
  if (f.status) {
    c.fillStyle = "#f0883e";
    c.fillText(f.status, x, y);
    y += 18;
  }
  c.fillStyle = "#e6edf3";
  for (const l of f.feed) {
    c.fillText(l, x, y);
    y += 17;
  }
}

// ---- connection loop ----

let session = null;
let status = "";

// describe turns a connection error into a sentence for the player.
function describe(err) {
  if (err) console.warn("arena:", err);
  if (!err) return "Disconnected";
  if (!(err instanceof VolleyError)) return "Cannot play: " + err.message;
  switch (err.code) {
    case "lobby":
      if (err.detail === "room_not_found") return "The arena's room does not exist (the host is gone)";
      if (err.detail === "room_full") return "The arena is full";
      if (err.detail === "no_room_available") return "No arena is open on this lobby";
      return "The lobby refused: " + err.message;
    case "host_full":
      return "The arena is full";
    case "busy":
      return "The arena host is busy with other players joining";
    case "bad_channel":
      return "The arena host refused this client's connection settings";
    case "rejected":
      return `The arena host refused the connection (${err.detail})`;
    case "server_closed":
      return "The arena host shut down";
    case "timeout":
      return "The host stopped answering";
    case "connection_lost":
      return "The WebRTC connection was lost";
    case "schema_mismatch":
    case "version_mismatch":
      return "This page does not match the host's game: " + err.message;
  }
  return "Cannot play: " + err.message;
}

async function play() {
  let lc;
  try {
    lc = await LobbyClient.connect(cfg.lobby);
  } catch (e) {
    throw Object.assign(e, { unreachable: true });
  }
  try {
    if (cfg.room) await lc.join(cfg.room);
    else await lc.quickJoin({ game: game.LobbyGame, gameVersion: game.LobbyVersion });
    status = "Connecting to the arena host over WebRTC…";
    const schema = Schema.parse(await (await fetch("schema.json")).text());
    const s = await connect({ schema, signaler: lc.hostSignaler(), iceServers: lc.iceServers });
    session = new ArenaSession(s);
    s.send({ name: cfg.name });
    // The lobby connection only carries signaling; the game can go on without it.
    return await s.closed;
  } finally {
    session = null;
    lc.close();
  }
}

async function connectLoop() {
  let backoff = 1000;
  for (let attempt = 1; ; attempt++) {
    status = `Connecting to the lobby at ${cfg.lobby}…`;
    let err;
    try {
      err = await play();
    } catch (e) {
      err = e;
    }
    let why = err && err.unreachable ? "Cannot reach the lobby (is the arena server running?)" : describe(err);
    if (cfg.room && err instanceof VolleyError && err.detail === "room_not_found") {
      cfg.room = ""; // the host restarted under a new room: take any open arena
      why += "; looking for any open arena";
    }
    for (let left = backoff; left > 0; left -= 1000) {
      status = `${why}. Reconnecting in ${Math.round(left / 1000)} s (attempt ${attempt + 1})…`;
      await new Promise((r) => setTimeout(r, 1000));
    }
    backoff = Math.min(2 * backoff, 10000);
  }
}

// ---- frames ----

let lastFrame = 0;
let frames = 0;

function frame(now) {
  const dt = lastFrame > 0 ? Math.min(0.25, (now - lastFrame) / 1000) : 1 / 60;
  lastFrame = now;
  frames++;
  resize();
  let f;
  if (session) {
    const sp = session.pred.player;
    let aim = session.lastInput.aim;
    if (mouse.has) aim = Math.atan2((mouse.y - view.oy) / view.scale - sp.y, (mouse.x - view.ox) / view.scale - sp.x);
    try {
      if (!session.s.error) session.input(buttons(), aim);
    } catch (e) {
      console.warn("arena: input:", e);
    }
    f = session.frame(dt);
  } else {
    f = { players: [], projectiles: [], feed: [], status, connected: false, self: 0 };
  }
  draw(f);
  publish(f);
  requestAnimationFrame(frame);
}

// publish exposes the state on window.arenaState and in the title.
function publish(f) {
  const st = window.arenaState;
  const me = f.players.find((p) => p.local);
  Object.assign(st, {
    connected: f.connected,
    playerId: f.self,
    players: f.players.length,
    frames,
    keydowns,
    status: f.status,
    rttMs: f.net ? Math.round(f.net.rtt) : 0,
    snapshotRate: f.net ? f.net.snapshotRate : 0,
  });
  let title = "Volley arena (JS)";
  if (me) {
    Object.assign(st, { x: me.px, y: me.py, alive: me.alive, kills: me.kills, deaths: me.deaths });
    title = `Volley arena (JS) — ${me.name} (${me.kills} kills)`;
  }
  if (!f.connected) title = "Volley arena (JS) — connecting";
  if (document.title !== title) document.title = title;
  const msg = f.connected ? "" : f.status;
  if (statusEl.textContent !== msg) statusEl.textContent = msg;
}

canvas.focus();
statusEl.textContent = "";
connectLoop();
requestAnimationFrame(frame);
