// The session: a WebRTC connection to a Volley host (docs/protocol.md). It creates the
// two data channels exactly as the host requires, signals through any Signaler, checks
// the welcome, decodes snapshots and acknowledges them, sends inputs (repeated until
// applied) and commands, receives events, keeps the host clock and an interpolation
// buffer, and counts what it does.

import { ClockSync, type ClockEstimate } from "./clock.js";
import { VolleyError, errorOfBye, errorOfRefusal } from "./errors.js";
import { InterpBuffer } from "./interp.js";
import type { Signal, Signaler } from "./lobby.js";
import type { Schema } from "./schema.js";
import { Decoder, SnapshotError, World, type PacketInfo } from "./snapshot.js";
import {
  Kind,
  LABEL_RELIABLE,
  LABEL_UNRELIABLE,
  MAX_INPUT_BYTES,
  MAX_UNRELIABLE_BYTES,
  PROTOCOL_VERSION,
  decodeMsgpack,
  decodePong,
  decodeSnapshot,
  encodeMessage,
  encodePing,
  encodeUpdate,
  type Bye,
  type InputMsg,
  type Welcome,
} from "./wire.js";

/** The WebRTC implementation: the browser's by default, or e.g. `@roamhq/wrtc` in Node. */
export interface RTCImplementation {
  RTCPeerConnection: new (config?: RTCConfiguration) => RTCPeerConnection;
}

/** Options of connect. Only schema and signaler are required. */
export interface ConnectOptions {
  /** The game's snapshot schema; it must be the host's (checked against the welcome). */
  schema: Schema;
  /** The signaling path to the host (LobbyClient.hostSignaler()). */
  signaler: Signaler;
  /** The WebRTC implementation. Default: globalThis.RTCPeerConnection. */
  rtc?: RTCImplementation;
  /** STUN/TURN servers (LobbyClient.iceServers). Default none. */
  iceServers?: RTCIceServer[];
  /** Aborts connecting. */
  signal?: AbortSignal;
  /** How long connecting may take, ms. Default 30000. */
  connectTimeoutMs?: number;
  /** How far behind the estimated host time interpolate renders, ms. Default: two send intervals plus twice the jitter, at least 50. */
  interpolationDelayMs?: number;
  /** Decoded snapshots the interpolation buffer keeps. Default 32. */
  bufferedSnapshots?: number;
  /** The most unacknowledged inputs repeated in each update. Default 16. */
  inputRedundancy?: number;
  /** How long an ack may wait to ride with the next input, ms. Default half the send interval; negative: at once. */
  ackDelayMs?: number;
  /** Added to an input's estimated arrival tick, ms. Default two host ticks. */
  inputMarginMs?: number;
  /** How often to ping, ms. Default 250. */
  pingIntervalMs?: number;
  /** Close with "timeout" when nothing arrives from the host for this long, ms. Default 5000. */
  timeoutMs?: number;
  /** The largest event accepted, bytes. Default 65536. */
  maxEventBytes?: number;
  /** The largest reliable message sent, bytes. Default 65536. */
  maxMessageBytes?: number;
  /** Unreliable messages held until the welcome arrives. Default 64. */
  earlyMessages?: number;
  /** The clock, ms. Default performance.now. */
  now?: () => number;
}

/** Why a message was dropped (the names of netcode's DropReason). */
export type DropReason = "malformed" | "too_large" | "unknown_kind" | "snapshot_decode" | "stale" | "queue_full";

/** A session's statistics. "In" is what it received, "out" what it sent. */
export interface Stats {
  rtt: number;
  jitter: number;
  /** Fraction of unreliable messages lost on their way here, and (as the host reports it) to the host. */
  lossIn: number;
  lossOut: number;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  snapshots: number;
  /** Rates averaged over the last full second. */
  bytesInPerSec: number;
  bytesOutPerSec: number;
  packetsInPerSec: number;
  packetsOutPerSec: number;
  snapshotsPerSec: number;
  drops: Record<DropReason, number>;
}

/** A decoded snapshot, as onSnapshot reports it. */
export interface SnapshotInfo extends PacketInfo {
  /** The last input tick the host had applied (undefined: none yet). */
  lastAppliedInput: number | undefined;
}

/** connect opens a session with the host behind opts.signaler and resolves once it is welcomed. */
export async function connect(opts: ConnectOptions): Promise<Session> {
  const s = new Session(opts);
  await s.start();
  return s;
}

type Handler<T> = (v: T) => void;

/** Session is one connection to a host. Create it with connect. */
export class Session {
  /** This client's ID on the host (the arena uses it as the player's entity ID). */
  id = 0;
  /** The host's tick rate and snapshot send rate, per second. */
  tickRate = 0;
  sendRate = 0;
  readonly schema: Schema;
  /** Resolves with why the session ended. */
  readonly closed: Promise<VolleyError>;

  private readonly opts: ConnectOptions;
  private readonly now: () => number;
  private readonly epoch: number;
  private pc!: RTCPeerConnection;
  private unrel!: RTCDataChannel;
  private rel!: RTCDataChannel;
  private readonly decoder: Decoder;
  private readonly interp: InterpBuffer;
  private readonly clockSync = new ClockSync();
  private welcomed = false;
  private early: Uint8Array[] = [];
  private endReason: VolleyError | undefined;
  private resolveClosed!: (e: VolleyError) => void;
  private unlisten: (() => void) | undefined;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private ackTimer: ReturnType<typeof setTimeout> | undefined;

  private lastHeard: number;
  private txSeq = 0;
  private rx = { started: false, first: 0, max: 0, recv: 0 };
  private ackPending = false;
  private pending: InputMsg[] = [];
  private lastStamp = 0;
  private haveStamp = false;
  private applied = 0; // last input tick applied + 1, from the host
  private tickMs = 0;
  private ackDelayMs = 0;
  private inputMarginMs = 0;

  private readonly counts = { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0, snapshots: 0 };
  private lossIn = 0;
  private lossOut = 0;
  private rates = { at: -1, last: [0, 0, 0, 0, 0], perSec: [0, 0, 0, 0, 0] };
  private readonly drops: Record<DropReason, number> = { malformed: 0, too_large: 0, unknown_kind: 0, snapshot_decode: 0, stale: 0, queue_full: 0 };

  private readonly snapshotHandlers = new Set<Handler<SnapshotInfo>>();
  private readonly eventHandlers = new Set<Handler<unknown>>();
  private readonly closeHandlers = new Set<Handler<VolleyError>>();
  private scratch: World;

  /** Use connect. */
  constructor(opts: ConnectOptions) {
    this.opts = opts;
    this.schema = opts.schema;
    this.now = opts.now ?? (() => performance.now());
    this.epoch = this.now();
    this.lastHeard = this.epoch;
    this.decoder = new Decoder(opts.schema);
    this.interp = new InterpBuffer(opts.schema, opts.bufferedSnapshots ?? 32);
    this.scratch = new World(opts.schema);
    this.closed = new Promise((r) => (this.resolveClosed = r));
  }

  /** start runs the handshake; connect calls it. */
  async start(): Promise<void> {
    const o = this.opts;
    const RTC = o.rtc?.RTCPeerConnection ?? (globalThis as { RTCPeerConnection?: RTCImplementation["RTCPeerConnection"] }).RTCPeerConnection;
    if (!RTC) throw new VolleyError("error", "no WebRTC implementation: pass ConnectOptions.rtc");
    let fail!: (e: VolleyError) => void;
    let welcome!: () => void;
    const ready = new Promise<void>((resolve, reject) => {
      welcome = resolve;
      fail = reject;
    });
    ready.catch(() => {}); // awaited below, unless the offer fails first
    const failConnect = (e: VolleyError) => {
      if (!this.endReason) this.end(e);
      fail(e);
    };
    const timeout = this.after(o.connectTimeoutMs ?? 30000, () => failConnect(new VolleyError("signaling", "timed out connecting to the host")));
    const onAbort = () => failConnect(new VolleyError("signaling", "connecting aborted"));
    o.signal?.addEventListener("abort", onAbort);
    if (o.signal?.aborted) onAbort();
    void this.closed.then((e) => fail(e));

    const pc = (this.pc = new RTC({ iceServers: o.iceServers ?? [] }));
    // Both channels in-band, before the offer: the host accepts exactly these.
    this.unrel = pc.createDataChannel(LABEL_UNRELIABLE, { ordered: false, maxRetransmits: 0 });
    this.rel = pc.createDataChannel(LABEL_RELIABLE, { ordered: true });
    this.unrel.binaryType = this.rel.binaryType = "arraybuffer";
    let opened = 0;
    const onOpen = () => {
      if (++opened === 2 && this.welcomed) welcome();
    };
    this.unrel.onopen = onOpen;
    this.rel.onopen = onOpen;
    this.unrel.onmessage = (e) => this.onUnreliable(bytes(e.data));
    this.rel.onmessage = (e) => {
      if (this.onReliable(bytes(e.data)) && opened === 2) welcome();
    };
    this.rel.onclose = () => this.end(new VolleyError("connection_lost", "reliable channel closed"));
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed" || pc.connectionState === "closed") this.end(new VolleyError("connection_lost", `peer connection ${pc.connectionState}`));
    };

    // Signaling: the offer first, then trickled candidates both ways.
    let offered = false;
    const held: Signal[] = [];
    const send = (s: Signal) => {
      if (offered) o.signaler.send(s);
      else held.push(s);
    };
    pc.onicecandidate = (e) => {
      const c = e.candidate;
      send(c && c.candidate ? { type: "ice", candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex } : { type: "ice" });
    };
    let haveAnswer = false;
    const early: RTCIceCandidateInit[] = [];
    this.unlisten = o.signaler.listen((s) => {
      switch (s.type) {
        case "answer":
          if (haveAnswer || !s.sdp) return;
          haveAnswer = true;
          pc.setRemoteDescription({ type: "answer", sdp: s.sdp }).then(
            () => {
              for (const c of early.splice(0)) pc.addIceCandidate(c).catch(() => {});
            },
            (err: unknown) => failConnect(new VolleyError("signaling", `host's answer: ${String(err)}`, { cause: err })),
          );
          return;
        case "ice": {
          if (!s.candidate) return; // end of candidates
          const c: RTCIceCandidateInit = { candidate: s.candidate, sdpMid: s.sdpMid ?? null, sdpMLineIndex: s.sdpMLineIndex ?? null };
          // A bad candidate is the host's problem; the others may still work.
          if (pc.remoteDescription) pc.addIceCandidate(c).catch(() => {});
          else if (early.length < 128) early.push(c);
          return;
        }
        case "reject": // the host refused us before the channels opened
          failConnect(errorOfRefusal(s.code, s.reason));
      }
    });
    try {
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      o.signaler.send({ type: "offer", sdp: offer.sdp ?? "" });
      offered = true;
      for (const s of held.splice(0)) o.signaler.send(s);
      await ready;
    } catch (e) {
      if (!this.endReason) this.end(e instanceof VolleyError ? e : new VolleyError("signaling", `offer: ${String(e)}`, { cause: e }));
      throw await this.closed;
    } finally {
      this.clear(timeout);
      o.signal?.removeEventListener("abort", onAbort);
    }
    // Welcomed and open: start pinging, then take in what arrived early.
    this.ping();
    for (const b of this.early.splice(0)) this.handleUnreliable(b);
  }

  // onReliable handles a reliable message; it reports whether it was a valid welcome.
  private onReliable(b: Uint8Array): boolean {
    this.count(b.length, true);
    this.lastHeard = this.now();
    if (b.length === 0) {
      this.drop("malformed");
      return false;
    }
    const body = b.subarray(1);
    switch (b[0]) {
      case Kind.event: {
        if (body.length > (this.opts.maxEventBytes ?? 65536)) return this.drop("too_large");
        let v: unknown;
        try {
          v = decodeMsgpack(body);
        } catch {
          return this.drop("malformed");
        }
        for (const h of this.eventHandlers) h(v);
        return false;
      }
      case Kind.welcome:
        if (this.welcomed) return this.drop("unknown_kind");
        return this.onWelcome(body);
      case Kind.bye: {
        let m: Bye = {};
        try {
          const v = decodeMsgpack(body);
          if (typeof v === "object" && v !== null) m = v as Bye;
        } catch {
          // Any bye ends the session, readable or not.
        }
        const code = typeof m.code === "string" ? m.code : undefined,
          reason = typeof m.reason === "string" ? m.reason : undefined;
        // A bye before the welcome refuses the connection.
        this.end(this.welcomed ? errorOfBye(code, reason) : errorOfRefusal(code, reason));
        return false;
      }
      default:
        return this.drop("unknown_kind");
    }
  }

  private onWelcome(body: Uint8Array): boolean {
    let w: Partial<Welcome>;
    try {
      w = (decodeMsgpack(body) ?? {}) as Partial<Welcome>;
    } catch (e) {
      this.end(new VolleyError("protocol", `welcome: ${String(e)}`));
      return false;
    }
    const refused = checkWelcome(w, this.schema.fingerprint);
    if (refused) {
      this.refuse(refused);
      return false;
    }
    const tr = w.tick_rate ?? 0,
      sr = w.send_rate ?? 0;
    if (!(tr > 0 && sr > 0 && sr <= tr) || typeof w.id !== "number") {
      this.end(new VolleyError("protocol", `welcome with tick rate ${tr}, send rate ${sr}`));
      return false;
    }
    this.id = w.id;
    this.tickRate = tr;
    this.sendRate = sr;
    this.tickMs = 1000 / tr;
    const ad = this.opts.ackDelayMs;
    this.ackDelayMs = ad === undefined ? 1000 / (2 * sr) : Math.max(0, ad);
    this.inputMarginMs = this.opts.inputMarginMs ?? 2 * this.tickMs;
    this.welcomed = true;
    return true;
  }

  // refuse tells the host why we leave (so it does not wait for a timeout) and ends.
  private refuse(e: VolleyError): void {
    void this.leave(e, e.message, e.code);
  }

  private onUnreliable(b: Uint8Array): void {
    this.count(b.length, true);
    if (this.welcomed) {
      this.handleUnreliable(b);
      return;
    }
    // Before the welcome nothing is decoded: the schema is not checked yet.
    if (this.early.length < (this.opts.earlyMessages ?? 64)) this.early.push(b);
    else this.drop("queue_full");
  }

  private handleUnreliable(b: Uint8Array): void {
    if (this.endReason) return;
    if (b.length < 5 || b.length > MAX_UNRELIABLE_BYTES) {
      this.drop("malformed");
      return;
    }
    const now = this.now();
    switch (b[0]) {
      case Kind.snapshot: {
        const m = decodeSnapshot(b);
        if (!m) return void this.drop("malformed");
        this.rxAdd(m.seq);
        this.lastHeard = now;
        let info: PacketInfo;
        try {
          info = this.decoder.decode(m.packet);
        } catch (e) {
          if (!(e instanceof SnapshotError)) throw e;
          return void this.drop("snapshot_decode");
        }
        this.counts.snapshots++;
        if (info.stale) return void this.drop("stale");
        this.interp.store(info.tick, this.decoder.world);
        if (m.lastInput > this.applied || ((this.applied - m.lastInput) >>> 0) > 2 ** 31) this.applied = m.lastInput;
        this.trimInputs();
        if (this.ackDelayMs > 0) {
          this.ackPending = true;
          if (this.ackTimer === undefined)
            this.ackTimer = this.after(this.ackDelayMs, () => {
              this.ackTimer = undefined;
              if (this.ackPending) this.sendUpdate();
            });
        } else this.sendUpdate();
        const si: SnapshotInfo = { ...info, lastAppliedInput: this.lastAppliedInput() };
        for (const h of this.snapshotHandlers) h(si);
        return;
      }
      case Kind.pong: {
        const p = decodePong(b);
        if (!p) return void this.drop("malformed");
        this.rxAdd(p.seq);
        this.lastHeard = now;
        this.lossOut = lossFraction(p.recv, p.lost);
        this.lossIn = lossFraction(...this.rxCounts());
        this.clockSync.add(p.clientTime / 1e6, now - this.epoch, p.hostTime / 1e6);
        return;
      }
      default:
        this.drop("unknown_kind");
    }
  }

  private ping(): void {
    if (this.endReason) return;
    const now = this.now();
    if (now - this.lastHeard > (this.opts.timeoutMs ?? 5000)) {
      this.end(new VolleyError("timeout", `nothing heard from the host for ${this.opts.timeoutMs ?? 5000} ms`));
      return;
    }
    const [recv, lost] = this.rxCounts();
    this.lossIn = lossFraction(recv, lost);
    this.sendUnreliable(
      encodePing(this.txSeq++, {
        clientTime: (now - this.epoch) * 1e6,
        recv,
        lost,
        rtt: this.clockSync.rtt * 1000,
        jitter: this.clockSync.jitter * 1000,
      }),
    );
    this.updateRates(now);
    this.after(this.opts.pingIntervalMs ?? 250, () => this.ping());
  }

  private sendUpdate(): void {
    this.ackPending = false;
    if (this.ackTimer !== undefined) {
      this.clear(this.ackTimer);
      this.ackTimer = undefined;
    }
    const a = this.decoder.ack();
    this.sendUnreliable(encodeUpdate(this.txSeq++, a.latest, a.mask, this.pending));
  }

  private sendUnreliable(b: Uint8Array<ArrayBuffer>): void {
    // Once the session is leaving (bye sent) or over, the channels are not touched
    // again: the host is closing them, and some WebRTC stacks (@roamhq/wrtc, Node's
    // libwebrtc binding) crash when send or readyState races a channel's close.
    if (this.endReason || this.unrel.readyState !== "open") return;
    try {
      this.unrel.send(b);
      this.count(b.length, false);
    } catch {
      // The channel is closing; the session ends through its close events.
    }
  }

  // trimInputs forgets inputs the host has applied (or whose tick has passed).
  private trimInputs(): void {
    let i = 0;
    while (i < this.pending.length && ((this.pending[i]!.tick + 1 - this.applied) | 0) <= 0) i++;
    if (i > 0) this.pending.splice(0, i);
  }

  /** inputTick returns the host tick an input sent now is stamped with. */
  inputTick(): number {
    const c = this.clockSync;
    // The transit allowance is capped at a second, as the Go client does (docs/protocol.md).
    const transit = Math.min(c.rtt / 2 + 2 * c.jitter, 1000);
    const host = this.now() - this.epoch + c.offset + transit + this.inputMarginMs;
    return host < 0 ? 0 : Math.floor(host / this.tickMs) >>> 0;
  }

  /**
   * sendInput sends one tick's input (at most 64 bytes) on the unreliable channel,
   * stamped with inputTick, and repeats it in every update until the host has applied
   * it. Calling it again before the stamped tick changes replaces that tick's input.
   * It returns the tick the input is for.
   */
  sendInput(data: Uint8Array): number {
    if (this.endReason) throw new VolleyError("not_connected", `not connected: ${this.endReason.message}`);
    if (data.length > MAX_INPUT_BYTES) throw new VolleyError("too_large", `input of ${data.length} bytes (max ${MAX_INPUT_BYTES})`);
    let tick = this.inputTick();
    if (this.haveStamp && ((tick - this.lastStamp) | 0) <= 0) tick = this.lastStamp;
    const last = this.pending[this.pending.length - 1];
    if (last && last.tick === tick) last.data = data.slice();
    else {
      if (this.pending.length >= (this.opts.inputRedundancy ?? 16)) this.pending.shift();
      this.pending.push({ tick, data: data.slice() });
    }
    this.lastStamp = tick;
    this.haveStamp = true;
    this.sendUpdate();
    return tick;
  }

  /** lastAppliedInput returns the last input tick the host has applied (undefined: none yet). */
  lastAppliedInput(): number | undefined {
    return this.applied === 0 ? undefined : this.applied - 1;
  }

  /** send sends a command (msgpack) on the reliable channel: it arrives exactly once, in order. */
  send(command: unknown): void {
    if (this.endReason) throw new VolleyError("not_connected", `not connected: ${this.endReason.message}`);
    const msg = encodeMessage(Kind.command, command);
    const max = this.opts.maxMessageBytes ?? 65536;
    if (msg.length > max) throw new VolleyError("too_large", `command of ${msg.length} bytes (max ${max})`);
    try {
      this.rel.send(msg);
    } catch (e) {
      throw new VolleyError("connection_lost", `send: ${String(e)}`, { cause: e });
    }
    this.count(msg.length, false);
  }

  /** onSnapshot calls fn after each decoded snapshot; it returns an unsubscribe function. */
  onSnapshot(fn: Handler<SnapshotInfo>): () => void {
    this.snapshotHandlers.add(fn);
    return () => this.snapshotHandlers.delete(fn);
  }

  /** onEvent calls fn with each event the host sends (decoded msgpack), in order. */
  onEvent(fn: Handler<unknown>): () => void {
    this.eventHandlers.add(fn);
    return () => this.eventHandlers.delete(fn);
  }

  /** onClose calls fn once, with why the session ended. */
  onClose(fn: Handler<VolleyError>): () => void {
    this.closeHandlers.add(fn);
    return () => this.closeHandlers.delete(fn);
  }

  /** latest returns the newest decoded world and its tick (do not modify it). */
  latest(): { tick: number; world: World } | undefined {
    return this.interp.newest();
  }

  /** clock returns the current estimate of the host clock. */
  clock(): ClockEstimate {
    const c = this.clockSync;
    return {
      synced: c.have,
      rtt: c.rtt,
      jitter: c.jitter,
      offset: c.offset,
      hostTick: this.tickMs ? (this.now() - this.epoch + c.offset) / this.tickMs : 0,
    };
  }

  /** interpolationDelay returns how far behind the estimated host time interpolate renders, ms. */
  interpolationDelay(): number {
    return this.opts.interpolationDelayMs ?? Math.max(50, 2000 / (this.sendRate || 30) + 2 * this.clockSync.jitter);
  }

  /**
   * interpolate returns the world at the render time (interpolationDelay behind the
   * estimated host time) and that time as a fractional tick; before clock sync, the
   * newest snapshot. It writes into dst (default: a world the session reuses).
   */
  interpolate(dst: World = this.scratch): { renderTick: number; world: World } | undefined {
    const est = this.clock();
    if (!est.synced) {
      const e = this.interp.newest();
      if (!e) return undefined;
      dst.copyFrom(e.world);
      return { renderTick: e.tick, world: dst };
    }
    const rt = est.hostTick - this.interpolationDelay() / this.tickMs;
    return this.interp.sample(dst, rt) ? { renderTick: rt, world: dst } : undefined;
  }

  /** stats returns the session's statistics. */
  stats(): Stats {
    const c = this.counts,
      r = this.rates.perSec;
    return {
      rtt: this.clockSync.rtt,
      jitter: this.clockSync.jitter,
      lossIn: this.lossIn,
      lossOut: this.lossOut,
      ...c,
      bytesInPerSec: r[0]!,
      bytesOutPerSec: r[1]!,
      packetsInPerSec: r[2]!,
      packetsOutPerSec: r[3]!,
      snapshotsPerSec: r[4]!,
      drops: { ...this.drops },
    };
  }

  /** The reason the session ended, or undefined while it runs. */
  get error(): VolleyError | undefined {
    return this.endReason;
  }

  /** close says goodbye to the host, waits (at most a second) for it to close, and releases everything. */
  async close(): Promise<void> {
    await this.leave(new VolleyError("closed", "closed"), "client closed", "left");
  }

  // leave ends the session with reason after a bye, giving the host up to a second to
  // close the connection first (so it learns why instead of seeing a dead peer).
  private async leave(reason: VolleyError, byeReason: string, code: string): Promise<void> {
    if (!this.endReason && this.rel?.readyState === "open") {
      this.endReason = reason;
      try {
        this.rel.send(encodeMessage(Kind.bye, { reason: byeReason, code }));
        await new Promise<void>((r) => {
          const t = setTimeout(r, 1000);
          this.rel.addEventListener("close", () => {
            clearTimeout(t);
            r();
          });
          void this.closed.then(() => {
            clearTimeout(t);
            r();
          });
        });
      } catch {
        // Closing anyway.
      }
    }
    this.end(reason);
    await this.closed;
  }

  // end records why the session ends (the first reason wins), closes the connection,
  // stops the timers and tells the onClose handlers, once.
  private end(reason: VolleyError): void {
    this.endReason ??= reason;
    if (this.released) return;
    this.released = true;
    this.unlisten?.();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.ackTimer = undefined;
    try {
      this.pc?.close();
    } catch {
      // Already closed.
    }
    const r = this.endReason;
    this.resolveClosed(r);
    for (const h of this.closeHandlers) h(r);
  }
  private released = false;

  private after(ms: number, fn: () => void): ReturnType<typeof setTimeout> {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  private clear(t: ReturnType<typeof setTimeout>): void {
    clearTimeout(t);
    this.timers.delete(t);
  }

  private drop(r: DropReason): false {
    this.drops[r]++;
    return false;
  }

  private count(n: number, incoming: boolean): void {
    if (incoming) {
      this.counts.bytesIn += n;
      this.counts.packetsIn++;
    } else {
      this.counts.bytesOut += n;
      this.counts.packetsOut++;
    }
  }

  private rxAdd(seq: number): void {
    const r = this.rx;
    if (!r.started) {
      r.started = true;
      r.first = r.max = seq;
    } else if (((seq - r.max) | 0) > 0) r.max = seq;
    r.recv++;
  }

  private rxCounts(): [number, number] {
    const r = this.rx;
    if (!r.started) return [0, 0];
    const expected = ((r.max - r.first) >>> 0) + 1;
    return expected < r.recv ? [r.recv, 0] : [r.recv, expected - r.recv];
  }

  private updateRates(now: number): void {
    const c = this.counts;
    const cur = [c.bytesIn, c.bytesOut, c.packetsIn, c.packetsOut, c.snapshots];
    const r = this.rates;
    if (r.at < 0) {
      r.at = now;
      r.last = cur;
      return;
    }
    const dt = (now - r.at) / 1000;
    if (dt < 1) return;
    r.perSec = cur.map((v, i) => (v - r.last[i]!) / dt);
    r.at = now;
    r.last = cur;
  }
}

/**
 * checkWelcome returns the error a client with schema fingerprint fp refuses a host's
 * welcome with (version first, then schema), naming both sides' values, or undefined.
 */
export function checkWelcome(w: Partial<Welcome>, fp: string): VolleyError | undefined {
  const proto = typeof w.proto === "number" ? w.proto : 0;
  if (proto !== PROTOCOL_VERSION) {
    return new VolleyError("version_mismatch", `protocol version mismatch: host speaks version ${proto}, this client ${PROTOCOL_VERSION}`, { host: proto, client: PROTOCOL_VERSION });
  }
  const schema = typeof w.schema === "string" ? w.schema : "";
  if (schema !== fp) {
    return new VolleyError("schema_mismatch", `snapshot schema mismatch: host schema "${schema}", this client's "${fp}"`, { host: schema, client: fp });
  }
  return undefined;
}

function lossFraction(recv: number, lost: number): number {
  return recv + lost === 0 ? 0 : lost / (recv + lost);
}

function bytes(data: unknown): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(0); // a text message: malformed
}
