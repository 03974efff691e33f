// The lobby client: rooms and WebRTC signaling over the lobby's JSON WebSocket
// protocol (lobby/README.md, "Protocol"). Player side: list, join, quick-join, and the
// signaling path to the room's host.

import { VolleyError } from "./errors.js";

/** One signaling message, in the browser's shapes (docs/protocol.md, "Signaling"). */
export interface Signal {
  type: string;
  sdp?: string;
  candidate?: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  /** A host's refusal ("reject"): a code such as "host_full", and why. */
  code?: string;
  reason?: string;
}

/** A signaling path to the host: what connect needs. */
export interface Signaler {
  send(signal: Signal): void;
  /** listen registers the handler for the other side's signals; it returns an unsubscribe function. */
  listen(handler: (signal: Signal) => void): () => void;
}

/** A room as the lobby reports it. */
export interface RoomInfo {
  id: string;
  name: string;
  /** The host's connection ID: the peer to signal. */
  host: string;
  capacity: number;
  members: number;
  locked: boolean;
  metadata?: unknown;
  /** The game the host announced, and its version (absent when it announced none). */
  game?: string;
  gameVersion?: string;
  [key: string]: unknown;
}

/** Options of a room to create. */
export interface RoomOptions {
  name?: string;
  capacity?: number;
  metadata?: unknown;
  password?: string;
  secret?: string;
  /** The game the room is for and its version: players filter on them (RoomFilter). */
  game?: string;
  gameVersion?: string;
}

/** Selects rooms by the game their host announced; an absent field matches any room. */
export interface RoomFilter {
  game?: string;
  gameVersion?: string;
}

/** Selects one page of rooms (LobbyClient.listPage). */
export interface ListOptions extends RoomFilter {
  /** At most this many rooms (the server caps it: 100 by default). */
  limit?: number;
  /** Continue after the page whose `next` this is. */
  cursor?: string;
}

/** One page of rooms, oldest first; `next` is absent on the last page. */
export interface RoomPage {
  rooms: RoomInfo[];
  next?: string;
}

/** Something that constructs WebSockets: the browser's, Node's, or a library's. */
export type WebSocketConstructor = new (url: string) => WebSocket;

/** Options of LobbyClient.connect. */
export interface LobbyOptions {
  /** The WebSocket implementation. Default: globalThis.WebSocket. */
  WebSocket?: WebSocketConstructor;
  /** How long connecting and each request may take, ms. Default 10000. */
  timeoutMs?: number;
}

/** Room events the lobby pushes; "draining": this lobby instance is shutting down, connect again to move. */
export interface LobbyEvent {
  type: "room_closed" | "member_joined" | "member_left" | "error" | "draining";
  roomId?: string;
  peer?: string;
  reason?: string;
  code?: string;
  message?: string;
}

type Msg = Record<string, unknown> & { type?: string; ref?: string };

// The most signals held for a handler that is not listening yet.
const MAX_EARLY_SIGNALS = 128;

/**
 * LobbyClient is one connection to a lobby. Requests are answered in order; errors the
 * lobby answers with are VolleyError "lobby" with detail set to the lobby's code
 * (room_full, room_not_found, no_room_available, ...).
 */
export class LobbyClient {
  /** This connection's ID on the lobby. */
  readonly id: string;
  /** STUN/TURN servers the lobby hands out, ready for RTCPeerConnection. */
  readonly iceServers: RTCIceServer[];
  /** Resolves with why the connection closed. */
  readonly closed: Promise<VolleyError>;

  private readonly ws: WebSocket;
  private readonly timeoutMs: number;
  private refs = 0;
  private readonly pending = new Map<string, { resolve: (m: Msg) => void; reject: (e: VolleyError) => void; timer: ReturnType<typeof setTimeout> }>();
  private current: RoomInfo | undefined;
  private signalHandler: ((s: Signal) => void) | undefined;
  private early: Signal[] = [];
  private readonly listeners = new Set<(e: LobbyEvent) => void>();
  private endReason: VolleyError | undefined;
  private resolveClosed!: (e: VolleyError) => void;

  private constructor(ws: WebSocket, welcome: Msg, timeoutMs: number) {
    this.ws = ws;
    this.timeoutMs = timeoutMs;
    this.id = String(welcome.id ?? "");
    this.iceServers = Array.isArray(welcome.iceServers) ? (welcome.iceServers as RTCIceServer[]) : [];
    this.closed = new Promise((r) => (this.resolveClosed = r));
    ws.onmessage = (e) => this.onMessage(e.data);
    ws.onclose = (e) => this.end(new VolleyError("connection_lost", `lobby connection closed (${e.code}${e.reason ? " " + e.reason : ""})`));
    ws.onerror = () => this.end(new VolleyError("connection_lost", "lobby connection failed"));
  }

  /** connect opens a lobby connection and waits for its welcome. */
  static connect(url: string, opts: LobbyOptions = {}): Promise<LobbyClient> {
    const WS = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS) return Promise.reject(new VolleyError("error", "no WebSocket implementation: pass LobbyOptions.WebSocket"));
    const timeoutMs = opts.timeoutMs ?? 10000;
    return new Promise((resolve, reject) => {
      let ws: WebSocket;
      try {
        ws = new WS(url);
      } catch (e) {
        reject(new VolleyError("connection_lost", `lobby ${url}: ${String(e)}`, { cause: e }));
        return;
      }
      const timer = setTimeout(() => {
        ws.close();
        reject(new VolleyError("timeout", `lobby ${url}: no welcome within ${timeoutMs} ms`));
      }, timeoutMs);
      ws.onmessage = (e) => {
        const m = parse(e.data);
        if (m?.type !== "welcome") return;
        clearTimeout(timer);
        resolve(new LobbyClient(ws, m, timeoutMs));
      };
      ws.onclose = (e) => {
        clearTimeout(timer);
        reject(new VolleyError("connection_lost", `lobby ${url}: closed (${e.code}${e.reason ? " " + e.reason : ""})`));
      };
      ws.onerror = () => {}; // onclose follows and says it
    });
  }

  /** The room this connection is in, if any. */
  get room(): RoomInfo | undefined {
    return this.current;
  }

  /** create makes a room with this connection as its host. */
  async create(o: RoomOptions = {}): Promise<RoomInfo> {
    const m = await this.request({ type: "create", ...o });
    return (this.current = room(m));
  }

  /** list returns the first page of rooms matching o (any game by default), oldest first. */
  async list(o: RoomFilter = {}): Promise<RoomInfo[]> {
    return (await this.listPage(o)).rooms;
  }

  /** listPage returns one page of the rooms matching o; pass its `next` as the following `cursor`. */
  async listPage(o: ListOptions = {}): Promise<RoomPage> {
    const m = await this.request({ type: "list", ...o });
    const rooms = Array.isArray(m.rooms) ? (m.rooms as RoomInfo[]) : [];
    return typeof m.next === "string" && m.next !== "" ? { rooms, next: m.next } : { rooms };
  }

  /** join enters a room as a player. */
  async join(roomId: string, password?: string): Promise<RoomInfo> {
    const m = await this.request({ type: "join", roomId, ...(password ? { password } : {}) });
    return (this.current = room(m));
  }

  /**
   * quickJoin enters the oldest unlocked room with space that matches f. A client of one
   * game should pass its game and version, so that it never lands in another game's room.
   */
  async quickJoin(f: RoomFilter = {}): Promise<RoomInfo> {
    const m = await this.request({ type: "quick_join", ...f });
    return (this.current = room(m));
  }

  /** leave leaves the current room. */
  async leave(): Promise<void> {
    await this.request({ type: "leave" });
    this.current = undefined;
  }

  /** on registers a handler for room events; it returns an unsubscribe function. */
  on(handler: (e: LobbyEvent) => void): () => void {
    this.listeners.add(handler);
    return () => this.listeners.delete(handler);
  }

  /** hostSignaler is the signaling path to the current room's host (for connect). */
  hostSignaler(): Signaler {
    return {
      send: (signal) => {
        if (this.current) this.post({ type: "signal", to: this.current.host, signal });
      },
      listen: (handler) => {
        this.signalHandler = handler;
        const early = this.early;
        this.early = [];
        for (const s of early) handler(s);
        return () => {
          if (this.signalHandler === handler) this.signalHandler = undefined;
        };
      },
    };
  }

  /** close closes the connection. */
  close(): void {
    this.end(new VolleyError("closed", "lobby client closed"));
    this.ws.close(1000);
  }

  private post(m: Msg): void {
    if (this.endReason) return;
    this.ws.send(JSON.stringify(m));
  }

  private request(m: Msg): Promise<Msg> {
    if (this.endReason) return Promise.reject(this.endReason);
    const ref = String(++this.refs);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new VolleyError("timeout", `lobby: no answer to ${m.type} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(ref, { resolve, reject, timer });
      this.post({ ...m, ref });
    });
  }

  private onMessage(data: unknown): void {
    const m = parse(data);
    if (!m) return;
    switch (m.type) {
      case "signal": {
        const s = m.signal as Signal | undefined;
        if (!s || !this.current || m.from !== this.current.host) return;
        if (this.signalHandler) this.signalHandler(s);
        else if (this.early.length < MAX_EARLY_SIGNALS) this.early.push(s);
        return;
      }
      case "room_closed":
      case "left":
        if (!m.roomId || m.roomId === this.current?.id) this.current = undefined;
        break;
    }
    const p = m.ref ? this.pending.get(m.ref) : undefined;
    if (p) {
      this.pending.delete(m.ref!);
      clearTimeout(p.timer);
      if (m.type === "error") {
        p.reject(new VolleyError("lobby", `lobby: ${String(m.code)}: ${String(m.message ?? "")}`, { detail: String(m.code) }));
      } else p.resolve(m);
      return;
    }
    if (m.type === "room_closed" || m.type === "member_joined" || m.type === "member_left" || m.type === "error" || m.type === "draining") {
      for (const h of this.listeners) h(m as unknown as LobbyEvent);
    }
  }

  private end(reason: VolleyError): void {
    if (this.endReason) return;
    this.endReason = reason;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(reason);
    }
    this.pending.clear();
    this.resolveClosed(reason);
  }
}

function parse(data: unknown): Msg | undefined {
  if (typeof data !== "string") return undefined;
  try {
    const m = JSON.parse(data) as unknown;
    return typeof m === "object" && m !== null ? (m as Msg) : undefined;
  } catch {
    return undefined;
  }
}

function room(m: Msg): RoomInfo {
  const r = m.room as RoomInfo | undefined;
  if (!r || typeof r.id !== "string") throw new VolleyError("lobby", `lobby: ${String(m.type)} without a room`, { detail: "bad_message" });
  return r;
}
