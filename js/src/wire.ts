// Data channel messages (docs/protocol.md, "Unreliable channel" and "Reliable
// channel"): a kind byte, then big-endian fixed layouts or msgpack.

import { Decoder as MsgpackDecoder, encode as msgpackEncode } from "@msgpack/msgpack";
import { SNAPSHOT_VERSION } from "./snapshot.js";

/** The protocol version this package speaks (the welcome's "proto"). */
export const PROTOCOL_VERSION = 2;

/** Message kinds: the first byte of every data channel message. */
export const Kind = {
  snapshot: 0x01,
  update: 0x02,
  ping: 0x03,
  pong: 0x04,
  /** Copies of commands (client→host); optional, this client sends none. */
  commandCopies: 0x05,
  /** Copies of events (host→client), sent only to clients that ask for them. */
  eventCopies: 0x06,
  welcome: 0x10,
  command: 0x11,
  event: 0x12,
  bye: 0x13,
  ack: 0x14,
} as const;

/** Every message on the unreliable channel is at most this long (one SCTP chunk). */
export const MAX_UNRELIABLE_BYTES = 1100;
/** One tick's input is at most this long. */
export const MAX_INPUT_BYTES = 64;
/** Data channel labels, exactly as the host requires them. */
export const LABEL_UNRELIABLE = "unreliable";
export const LABEL_RELIABLE = "reliable";

const PING_BYTES = 29;
const PONG_BYTES = 29;
const SNAPSHOT_HEADER_BYTES = 9;

/** An input for one host tick. */
export interface InputMsg {
  tick: number;
  data: Uint8Array;
}

/** A pong: the host's answer to a ping. */
export interface Pong {
  seq: number;
  /** The ping's clientTime, echoed (ns). */
  clientTime: number;
  /** Host clock when it answered: ns since its tick 0. */
  hostTime: number;
  /** The host's counts of our unreliable messages: received, missing. */
  recv: number;
  lost: number;
}

/** The ping fields a client sends. */
export interface Ping {
  clientTime: number;
  recv: number;
  lost: number;
  /** Our RTT and jitter estimates, µs. */
  rtt: number;
  jitter: number;
}

/** The host's welcome (msgpack map). */
export interface Welcome {
  id: number;
  tick_rate: number;
  send_rate: number;
  proto: number;
  schema: string;
}

/** A bye (msgpack map; either key may be missing). */
export interface Bye {
  reason?: string;
  code?: string;
}

// u64 writes a non-negative integer below 2^53 big-endian.
function setU64(dv: DataView, off: number, v: number): void {
  dv.setUint32(off, Math.floor(v / 2 ** 32));
  dv.setUint32(off + 4, v % 2 ** 32);
}

function getU64(dv: DataView, off: number): number {
  return dv.getUint32(off) * 2 ** 32 + dv.getUint32(off + 4);
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** encodePing builds a ping: kind, seq u32, clientTime u64 ns, recv, lost, rtt µs, jitter µs (u32). */
export function encodePing(seq: number, p: Ping): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(PING_BYTES);
  const dv = view(b);
  b[0] = Kind.ping;
  dv.setUint32(1, seq >>> 0);
  setU64(dv, 5, Math.max(0, Math.round(p.clientTime)));
  dv.setUint32(13, p.recv >>> 0);
  dv.setUint32(17, p.lost >>> 0);
  dv.setUint32(21, Math.min(0xffffffff, Math.max(0, Math.round(p.rtt))));
  dv.setUint32(25, Math.min(0xffffffff, Math.max(0, Math.round(p.jitter))));
  return b;
}

/** decodePong parses a pong; it returns undefined for a malformed one. */
export function decodePong(b: Uint8Array): Pong | undefined {
  if (b.length !== PONG_BYTES || b[0] !== Kind.pong) return undefined;
  const dv = view(b);
  return { seq: dv.getUint32(1), clientTime: getU64(dv, 5), hostTime: getU64(dv, 13), recv: dv.getUint32(21), lost: dv.getUint32(25) };
}

/** A snapshot message: its sequence number, the host's last applied input tick + 1, the packet. */
export interface SnapshotMsg {
  seq: number;
  lastInput: number;
  packet: Uint8Array;
}

/** decodeSnapshot parses a snapshot message's header; undefined if malformed. */
export function decodeSnapshot(b: Uint8Array): SnapshotMsg | undefined {
  if (b.length < SNAPSHOT_HEADER_BYTES || b[0] !== Kind.snapshot) return undefined;
  const dv = view(b);
  return { seq: dv.getUint32(1), lastInput: dv.getUint32(5), packet: b.subarray(SNAPSHOT_HEADER_BYTES) };
}

/**
 * encodeUpdate builds an update: kind, seq u32, the 7-byte ack (version 2, latest u16
 * LE, mask u32 LE), a count byte, then (tick u32, len u8, bytes) per input, in ascending
 * ticks; as many of the newest inputs as fit in MAX_UNRELIABLE_BYTES (at most 255).
 */
export function encodeUpdate(seq: number, latest: number, mask: number, inputs: readonly InputMsg[]): Uint8Array<ArrayBuffer> {
  let room = MAX_UNRELIABLE_BYTES - 12 - 1; // after the header, the ack and the count
  let first = inputs.length;
  while (first > 0 && first > inputs.length - 255) {
    const need = 5 + inputs[first - 1]!.data.length;
    if (need > room) break;
    room -= need;
    first--;
  }
  const list = inputs.slice(first);
  let n = 13;
  for (const in_ of list) n += 5 + in_.data.length;
  const b = new Uint8Array(n);
  const dv = view(b);
  b[0] = Kind.update;
  dv.setUint32(1, seq >>> 0);
  b[5] = SNAPSHOT_VERSION; // ack version: the snapshot format's
  dv.setUint16(6, latest, true);
  dv.setUint32(8, mask >>> 0, true);
  b[12] = list.length;
  let off = 13;
  for (const in_ of list) {
    dv.setUint32(off, in_.tick >>> 0);
    b[off + 4] = in_.data.length;
    b.set(in_.data, off + 5);
    off += 5 + in_.data.length;
  }
  return b.subarray(0, off);
}

const COPIES_HEADER_BYTES = 14;

/**
 * A copies message (docs/protocol.md, "Copies"): the sender's count of the other
 * direction's messages received (`acked`), and copies of its own numbered messages
 * `first`, `first + 1`, … (msgpack bodies, without the kind byte).
 */
export interface Copies {
  kind: number;
  seq: number;
  acked: number;
  first: number;
  bodies: Uint8Array[];
}

/** encodeCopies builds a copies message: kind, seq u32, acked u32, first u32, n u8, n × (len u16, bytes). */
export function encodeCopies(c: Copies): Uint8Array<ArrayBuffer> {
  let n = COPIES_HEADER_BYTES;
  for (const b of c.bodies) n += 2 + b.length;
  const b = new Uint8Array(n);
  const dv = view(b);
  b[0] = c.kind;
  dv.setUint32(1, c.seq >>> 0);
  dv.setUint32(5, c.acked >>> 0);
  dv.setUint32(9, c.bodies.length > 0 ? c.first >>> 0 : 0);
  b[13] = c.bodies.length;
  let off = COPIES_HEADER_BYTES;
  for (const body of c.bodies) {
    dv.setUint16(off, body.length);
    b.set(body, off + 2);
    off += 2 + body.length;
  }
  return b;
}

/** decodeCopies parses a copies message; undefined if malformed. Bodies alias b. */
export function decodeCopies(b: Uint8Array): Copies | undefined {
  if (b.length < COPIES_HEADER_BYTES || b.length > MAX_UNRELIABLE_BYTES) return undefined;
  const dv = view(b);
  const bodies: Uint8Array[] = [];
  let off = COPIES_HEADER_BYTES;
  for (let i = 0; i < b[13]!; i++) {
    if (off + 2 > b.length) return undefined;
    const len = dv.getUint16(off);
    if (off + 2 + len > b.length) return undefined;
    bodies.push(b.subarray(off + 2, off + 2 + len));
    off += 2 + len;
  }
  if (off !== b.length) return undefined;
  return { kind: b[0]!, seq: dv.getUint32(1), acked: dv.getUint32(5), first: dv.getUint32(9), bodies };
}

/** encodeMessage builds a reliable message: the kind byte and v as msgpack. */
export function encodeMessage(kind: number, v: unknown): Uint8Array<ArrayBuffer> {
  const body = msgpackEncode(v);
  const b = new Uint8Array(body.length + 1);
  b[0] = kind;
  b.set(body, 1);
  return b;
}

/**
 * decodeMsgpack decodes a msgpack payload, refusing containers and strings longer than
 * the payload itself (a claimed length can never exceed the bytes that remain).
 */
export function decodeMsgpack(body: Uint8Array): unknown {
  const n = body.length;
  return new MsgpackDecoder({ maxStrLength: n, maxBinLength: n, maxArrayLength: n, maxMapLength: n, maxExtLength: n }).decode(body);
}
