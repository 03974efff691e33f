// The arena's rules that the JS page needs, ported from the Go package
// examples/arena/game: movement (for predicting the local player exactly as the host
// moves it), the input encoding, and the Predictor. js/test/arena.test.js checks the
// port against the Go rules on the shared vectors in testdata/protocol.

// The arena's identity in a lobby (game.LobbyGame and game.LobbyVersion in Go): its
// rooms carry them, and its clients quick-join only rooms that do.
export const LobbyGame = "volley-arena";
export const LobbyVersion = "1";
export const Width = 64;
export const Height = 36;
export const PlayerRadius = 0.7;
export const PlayerSpeed = 10;
export const ProjectileRadius = 0.2;
export const MaxHealth = 100;
export const PosPrecision = 0.01;
export const MaxInputRepeat = 8;
export const MaxPending = 256;

export const ButtonUp = 1;
export const ButtonDown = 2;
export const ButtonLeft = 4;
export const ButtonRight = 8;
export const ButtonFire = 16;
const buttonMask = 31;

// Go folds constant expressions exactly; these are those constants as doubles.
const maxX = 63.3; // Width - PlayerRadius
const maxY = 35.3; // Height - PlayerRadius
const eps = 1e-6;

/** Entity type IDs and the projectile ID offset of the arena's snapshots. */
export const TypePlayer = 1;
export const TypeProjectile = 2;
export const ProjectileBase = 2 ** 31;

export const Obstacles = [
  { x: 28, y: 15, w: 8, h: 6 },
  { x: 12, y: 8, w: 4, h: 4 },
  { x: 48, y: 8, w: 4, h: 4 },
  { x: 12, y: 24, w: 4, h: 4 },
  { x: 48, y: 24, w: 4, h: 4 },
  { x: 22, y: 0, w: 2, h: 9 },
  { x: 40, y: 27, w: 2, h: 9 },
  { x: 0, y: 17, w: 6, h: 2 },
  { x: 58, y: 17, w: 6, h: 2 },
  { x: 30, y: 6, w: 4, h: 1.5 },
  { x: 30, y: 28.5, w: 4, h: 1.5 },
];

/** goRound is Go's math.Round: halves away from zero. */
export function goRound(x) {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** roundPos rounds v to the PosPrecision grid. */
export function roundPos(v) {
  return goRound(v / PosPrecision) * PosPrecision;
}

function clamp(v, lo, hi) {
  return Math.max(lo, Math.min(hi, v));
}

/** direction returns the unit movement vector the buttons ask for. */
export function direction(buttons) {
  let x = 0,
    y = 0;
  if (buttons & ButtonLeft) x--;
  if (buttons & ButtonRight) x++;
  if (buttons & ButtonUp) y--;
  if (buttons & ButtonDown) y++;
  if (x !== 0 && y !== 0) {
    x *= Math.SQRT2 / 2;
    y *= Math.SQRT2 / 2;
  }
  return { x, y };
}

function collideX(fx, fy, x) {
  const r = PlayerRadius;
  x = clamp(x, r, maxX);
  for (const o of Obstacles) {
    if (fy + r <= o.y + eps || fy - r >= o.y + o.h - eps) continue;
    if (x > fx && fx + r <= o.x + eps && x + r > o.x) x = o.x - r;
    else if (x < fx && fx - r >= o.x + o.w - eps && x - r < o.x + o.w) x = o.x + o.w + r;
  }
  return x;
}

function collideY(fx, fy, y) {
  const r = PlayerRadius;
  y = clamp(y, r, maxY);
  for (const o of Obstacles) {
    if (fx + r <= o.x + eps || fx - r >= o.x + o.w - eps) continue;
    if (y > fy && fy + r <= o.y + eps && y + r > o.y) y = o.y - r;
    else if (y < fy && fy - r >= o.y + o.h - eps && y - r < o.y + o.h) y = o.y + o.h + r;
  }
  return y;
}

/**
 * movePlayer moves a living player p ({x, y, aim, alive}) for dt seconds as the input
 * ({buttons, aim}) asks, sliding along edges and obstacles: game.MovePlayer.
 */
export function movePlayer(p, input, dt) {
  if (!p.alive) return;
  p.aim = input.aim;
  const d = direction(input.buttons);
  const k = PlayerSpeed * dt;
  const dx = roundPos(d.x * k),
    dy = roundPos(d.y * k);
  if (dx !== 0) p.x = roundPos(collideX(p.x, p.y, p.x + dx));
  if (dy !== 0) p.y = roundPos(collideY(p.x, p.y, p.y + dy));
}

function aimToWire(a) {
  if (!Number.isFinite(a)) return 0;
  let turns = a / (2 * Math.PI);
  turns -= Math.floor(turns);
  return goRound(turns * 65536) & 0xffff;
}

function aimFromWire(v) {
  return v * ((2 * Math.PI) / 65536);
}

/** quantizeAim rounds an angle to the 16-bit grid inputs travel on, in [0, 2π). */
export function quantizeAim(a) {
  return aimFromWire(aimToWire(a));
}

/** encodeInput is game.AppendInput: seq u32 LE, buttons u8, aim u16 LE (1/65536 turns). */
export function encodeInput(input) {
  const b = new Uint8Array(7);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, input.seq >>> 0, true);
  b[4] = input.buttons & buttonMask;
  dv.setUint16(5, aimToWire(input.aim), true);
  return b;
}

/**
 * Predictor runs the local player's movement ahead of the host (game.Predictor):
 * predictInput applies each numbered input at once; reconcile restarts from the host's
 * state of the player and replays the inputs it has not applied yet.
 */
export class Predictor {
  constructor(dt) {
    this.dt = dt;
    this.player = { x: 0, y: 0, aim: 0, alive: false, spawn: 0 };
    this.pending = [];
    this.seq = 0;
    this.acked = 0;
    this.synced = false;
    this.offset = { x: 0, y: 0 };
    this.corrections = 0;
  }

  predictInput(input) {
    if (input.seq <= this.seq) return;
    this.seq = input.seq;
    const inp = { seq: input.seq, buttons: input.buttons & buttonMask, aim: input.aim };
    if (this.pending.length === MaxPending) this.pending.shift();
    this.pending.push(inp);
    if (this.synced) movePlayer(this.player, inp, this.dt);
  }

  /** reconcile takes the host's player ({x, y, aim, alive, spawn, lastInput, ...}). */
  reconcile(host) {
    if (this.synced && host.lastInput < this.acked) return;
    let i = 0;
    while (i < this.pending.length && this.pending[i].seq <= host.lastInput) i++;
    this.pending.splice(0, i);
    const before = this.player;
    const wasSynced = this.synced;
    this.player = { ...host };
    this.acked = host.lastInput;
    this.synced = true;
    for (const inp of this.pending) movePlayer(this.player, inp, this.dt);
    if (!wasSynced || before.spawn !== this.player.spawn || !this.player.alive) {
      this.offset = { x: 0, y: 0 };
      return;
    }
    let dx = before.x + this.offset.x - this.player.x,
      dy = before.y + this.offset.y - this.player.y;
    if (Math.abs(before.x - this.player.x) > PosPrecision / 2 || Math.abs(before.y - this.player.y) > PosPrecision / 2) this.corrections++;
    if (Math.hypot(dx, dy) > 3) dx = dy = 0; // too far to glide: snap
    this.offset = { x: dx, y: dy };
  }

  /** renderPos is the prediction plus a visual correction that decays over about 100 ms. */
  renderPos(frameDt) {
    const k = Math.exp(-frameDt * 15);
    this.offset = { x: this.offset.x * k, y: this.offset.y * k };
    if (Math.hypot(this.offset.x, this.offset.y) < 0.001) this.offset = { x: 0, y: 0 };
    return { x: this.player.x + this.offset.x, y: this.player.y + this.offset.y };
  }
}
