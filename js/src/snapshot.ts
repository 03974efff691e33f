// The snapshot decoder: a port of Go's snapshot.Decoder (wire format version 2,
// documented byte by byte in the Go package doc and docs/protocol.md). It takes packets
// in any order, keeps the entity versions the host may use as baselines, and says what
// to acknowledge. Given the same packets it reports exactly what the Go decoder
// reports; the shared vectors in testdata/protocol check that.

import type { EntityType, EntityValues, Schema } from "./schema.js";

/** Wire constants of the snapshot format. */
export const SNAPSHOT_VERSION = 2;
export const HEADER_LEN = 7;
export const MAX_PACKET_BYTES = 4096;
/** How many packets back a baseline may be; a packet this far behind the newest is stale. */
export const HISTORY = 32;
/** The most entity records (live and recently removed) a decoder keeps. */
export const MAX_DECODER_ENTITIES = 1 << 16;

const SLOTS = 2 * HISTORY;
const OP_DELTA = 1,
  OP_WHOLE = 2,
  OP_REMOVE = 3,
  OP_COMMON = 4;

// The field code (Go's snapshot/code.go): five classes of widths min(k+s, bits).
const CODE_CLASSES = 5;
const CODE_STEPS = [0, 0, 1, 2, 4];

// A field's code in one packet: class widths and where each class ends.
interface FieldCode {
  k: number;
  w: number[];
  lim: number[];
}

function fieldCode(k: number, bits: number): FieldCode {
  const w: number[] = [];
  const lim: number[] = [];
  let l = 0;
  for (const s of CODE_STEPS) {
    const wi = Math.min(k + s, bits);
    w.push(wi);
    l += 2 ** wi;
    lim.push(l);
  }
  return { k, w, lim };
}

// An entry of a packet's type table.
interface TableEntry {
  type: EntityType;
  id: number;
  pd: number;
  codes: FieldCode[];
}

/** Why a packet was rejected; the names of Go's sentinel errors. */
export type SnapshotErrorCode = "truncated" | "oversized" | "version" | "corrupt" | "missing_baseline" | "unknown_type";

/** SnapshotError reports a rejected packet. A rejected packet changes nothing. */
export class SnapshotError extends Error {
  readonly code: SnapshotErrorCode;
  constructor(code: SnapshotErrorCode, message: string) {
    super(`snapshot: ${message}`);
    this.name = "SnapshotError";
    this.code = code;
  }
}

/** What a decoded packet carried. */
export interface PacketInfo {
  seq: number;
  tick: number;
  /** Entity versions carried (whole or delta). */
  entities: number;
  removals: number;
  /** Entries that changed the current state. */
  applied: number;
  /** Too old to use: ignored, not acknowledged. */
  stale: boolean;
}

/** What to acknowledge: latest, and packet latest-1-i for each bit i of mask. */
export interface Ack {
  latest: number;
  mask: number;
}

/** One entity of a World: its type and quantized values. */
export interface Entity {
  type: number;
  values: Uint32Array;
}

/**
 * World is a set of entities with quantized values, iterated in ascending ID order.
 * Read values with get (quantized) or read (dequantized by the schema).
 */
export class World {
  readonly schema: Schema;
  private readonly ents = new Map<number, Entity>();
  private order: number[] = [];
  private sorted = true;

  constructor(schema: Schema) {
    this.schema = schema;
  }

  /** The number of entities. */
  get size(): number {
    return this.ents.size;
  }

  has(id: number): boolean {
    return this.ents.has(id);
  }

  /** get returns an entity's type and quantized values (owned by the world). */
  get(id: number): Entity | undefined {
    return this.ents.get(id);
  }

  /** read returns an entity's fields, dequantized, with its id and type. */
  read<T extends object = EntityValues>(id: number): (T & { id: number; type: number }) | undefined {
    const e = this.ents.get(id);
    const t = e && this.schema.type(e.type);
    if (!e || !t) return undefined;
    return Object.assign(t.values(e.values), { id, type: e.type }) as T & { id: number; type: number };
  }

  /** ids returns the entity IDs in ascending order. */
  ids(): readonly number[] {
    if (!this.sorted) {
      this.order.sort((a, b) => a - b);
      this.sorted = true;
    }
    return this.order;
  }

  /** forEach calls fn for each entity in ascending ID order. */
  forEach(fn: (id: number, type: number, values: Uint32Array) => void): void {
    for (const id of this.ids()) {
      const e = this.ents.get(id)!;
      fn(id, e.type, e.values);
    }
  }

  /** set stores an entity (values are copied). */
  set(id: number, type: number, values: ArrayLike<number>): void {
    const e = this.ents.get(id);
    if (e && e.type === type && e.values.length === values.length) {
      e.values.set(values);
      return;
    }
    this.ents.set(id, { type, values: Uint32Array.from(values) });
    if (!e) {
      const o = this.order;
      if (this.sorted && o.length > 0 && o[o.length - 1]! > id) this.sorted = false;
      o.push(id);
    }
  }

  /** delete removes an entity and reports whether it existed. */
  delete(id: number): boolean {
    if (!this.ents.delete(id)) return false;
    const o = this.ids() as number[];
    o.splice(lowerBound(o, id), 1);
    return true;
  }

  clear(): void {
    this.ents.clear();
    this.order = [];
    this.sorted = true;
  }

  /** copyFrom makes this world an exact copy of src. */
  copyFrom(src: World): void {
    this.clear();
    for (const id of src.ids()) {
      const e = src.ents.get(id)!;
      this.ents.set(id, { type: e.type, values: e.values.slice() });
    }
    this.order = src.order.slice();
  }
}

function lowerBound(a: readonly number[], x: number): number {
  let lo = 0,
    hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (a[m]! < x) lo = m + 1;
    else hi = m;
  }
  return lo;
}

// A record: what the decoder knows about one entity ID.
interface Rec {
  id: number;
  vals: Uint32Array | null; // SLOTS versions of stride values
  slotSeq: Float64Array; // extended seq of the packet that carried each slot's version (0: none)
  slotTick: Uint32Array;
  slotType: Uint8Array;
  inWorld: boolean;
  hasLast: boolean;
  listed: boolean; // in tombs
  last: number; // extended seq of the last applied version or removal
  tick: number;
}

interface Entry {
  rec: Rec | undefined;
  id: number;
  op: number;
  type: number;
  n: number;
  off: number;
}

// BitIn reads a stream written least significant bit first. A read past the end
// returns 0 and marks the stream bad, as Go's bitIn does.
class BitIn {
  pos = 0;
  bad = false;
  constructor(
    private readonly buf: Uint8Array,
    private readonly off: number,
    readonly end: number,
  ) {}

  read(n: number): number {
    if (this.pos + n > this.end) {
      this.pos = this.end;
      this.bad = true;
      return 0;
    }
    const v = this.at(this.pos, n);
    this.pos += n;
    return v;
  }

  // at returns the n (<= 53) bits at bit position p, the stream continued by zeros
  // past its end.
  at(p: number, n: number): number {
    let v = 0,
      shift = 1;
    while (n > 0) {
      const off = p & 7;
      const take = Math.min(8 - off, n);
      const i = p >>> 3;
      const byte = p < this.end ? this.buf[this.off + i]! : 0;
      v += ((byte >>> off) & ((1 << take) - 1)) * shift;
      shift *= 2 ** take;
      p += take;
      n -= take;
    }
    return v;
  }

  // ones counts the one bits from position p (at most max), zeros past the end.
  ones(p: number, max: number): number {
    let c = 0;
    while (c < max && this.at(p + c, 1) === 1) c++;
    return c;
  }
}

/**
 * Decoder is the client side of the snapshot codec. Feed it every snapshot packet, in
 * whatever order they arrive; read world; send ack back to the host.
 */
export class Decoder {
  readonly schema: Schema;
  /** The current state. Do not modify it. */
  readonly world: World;
  private readonly recs = new Map<number, Rec>();
  private tombs: Rec[] = [];
  private have = false;
  private newest = 0;
  private newExt = 0;
  private mask = 0;
  private readonly stride: number;
  private entries: Entry[] = [];
  private vals: number[] = [];

  constructor(schema: Schema) {
    this.schema = schema;
    this.world = new World(schema);
    this.stride = schema.maxFields;
  }

  /** ack returns what to acknowledge now ({latest: 0, mask: 0} before any packet). */
  ack(): Ack {
    return this.have ? { latest: this.newest, mask: this.mask } : { latest: 0, mask: 0 };
  }

  /** entityTick returns the host tick of the packet that last updated an entity in the world. */
  entityTick(id: number): number | undefined {
    const r = this.recs.get(id);
    return r && r.inWorld ? r.tick : undefined;
  }

  /**
   * decode applies one packet. It throws SnapshotError for a packet it rejects (which
   * then changes nothing) and never throws anything else.
   */
  decode(pkt: Uint8Array): PacketInfo {
    if (pkt.length > MAX_PACKET_BYTES) throw new SnapshotError("oversized", `packet of ${pkt.length} bytes`);
    if (pkt.length < HEADER_LEN) throw new SnapshotError("truncated", `packet of ${pkt.length} bytes`);
    if (pkt[0] !== SNAPSHOT_VERSION) throw new SnapshotError("version", `packet version ${pkt[0]}`);
    const seq = pkt[1]! | (pkt[2]! << 8);
    const tick = (pkt[3]! | (pkt[4]! << 8) | (pkt[5]! << 16) | (pkt[6]! << 24)) >>> 0;
    const info: PacketInfo = { seq, tick, entities: 0, removals: 0, applied: 0, stale: false };
    if (seq === 0) throw new SnapshotError("corrupt", "sequence number 0");
    let ext = 2 ** 32;
    if (this.have) {
      let d = (seq - this.newest) & 0xffff;
      if (d >= 0x8000) d -= 0x10000;
      ext = this.newExt + d;
      if (this.newExt - ext >= HISTORY) {
        info.stale = true;
        return info;
      }
    }
    this.parse(pkt, ext, tick, info);
    this.noteReceived(seq, ext);
    for (const en of this.entries) if (this.apply(en, ext, tick)) info.applied++;
    this.purge();
    return info;
  }

  // parse decodes the entries into this.entries and this.vals without changing state.
  // Checks come in the order Go's decoder makes them, so that both name the same error.
  private parse(pkt: Uint8Array, ext: number, tick: number, info: PacketInfo): void {
    const br = new BitIn(pkt, HEADER_LEN, (pkt.length - HEADER_LEN) * 8);
    const entries: Entry[] = (this.entries = []);
    const vals: number[] = (this.vals = []);
    let prev = -1;
    let newRecs = 0;
    const common = br.read(5);
    const table = this.parseTable(br, common);
    const byType = new Map<number, TableEntry>();
    for (const te of table) byType.set(te.id, te);
    const tb = table.length > 1 ? Math.ceil(Math.log2(table.length)) : 0;
    for (;;) {
      if (br.pos + 4 > br.end) throw new SnapshotError("truncated", "no end marker");
      // The op (a prefix code) and the ID gap, read as Go reads them from one load.
      let p = br.pos;
      const opIdx = zerosBefore(br, p);
      if (opIdx === 4) {
        br.pos += 4;
        break;
      }
      p += opIdx + 1;
      const op = [OP_COMMON, OP_DELTA, OP_WHOLE, OP_REMOVE][opIdx]!;
      let gap = 0;
      if (br.at(p, 1) === 0) p += 1;
      else if (br.at(p + 1, 1) === 0) {
        gap = br.at(p + 2, 4);
        p += 6;
      } else if (br.at(p + 2, 1) === 0) {
        gap = br.at(p + 3, 12);
        p += 15;
      } else {
        gap = br.at(p + 3, 32);
        p += 35;
      }
      if (p > br.end) throw new SnapshotError("truncated", "in entity ID");
      br.pos = p;
      const id = prev + 1 + gap;
      if (id > 0xffffffff) throw new SnapshotError("corrupt", "entity ID beyond 32 bits");
      prev = id;
      const rec = this.recs.get(id);
      const en: Entry = { rec, id, op, type: 0, n: 0, off: vals.length };
      entries.push(en);
      if (!rec) {
        newRecs++;
        if (this.recs.size + newRecs > MAX_DECODER_ENTITIES) throw new SnapshotError("corrupt", `more than ${MAX_DECODER_ENTITIES} entities`);
      }
      switch (op) {
        case OP_REMOVE:
          info.removals++;
          break;
        case OP_WHOLE: {
          const ti = br.read(tb);
          if (br.bad) throw new SnapshotError("truncated", `in entity ${id}`);
          if (ti >= table.length) throw new SnapshotError("corrupt", `entity ${id}: type index ${ti} of ${table.length}`);
          const te = table[ti]!;
          en.type = te.id;
          for (const f of te.type.fields) {
            const v = br.read(f.bits);
            if (v > f.maxq) throw new SnapshotError("corrupt", `entity ${id} field ${f.name} = ${v}`);
            vals.push(v);
          }
          if (br.bad) throw new SnapshotError("truncated", `in entity ${id}`);
          en.n = te.type.fields.length;
          info.entities++;
          break;
        }
        default:
          this.parseDelta(br, en, rec, ext, tick, common, byType);
          info.entities++;
          break;
      }
    }
    // Only zero padding to the byte boundary may follow the end marker.
    const rest = br.end - br.pos;
    if (rest >= 8) throw new SnapshotError("corrupt", `${rest >>> 3} bytes after end marker`);
    if (br.read(rest) !== 0) throw new SnapshotError("corrupt", "non-zero padding");
  }

  // parseTable reads the packet's type table.
  private parseTable(br: BitIn, common: number): TableEntry[] {
    const n = br.read(8);
    const table: TableEntry[] = [];
    let last = -1;
    for (let i = 0; i < n; i++) {
      const id = br.read(8);
      const pd = br.read(5);
      if (br.bad) throw new SnapshotError("truncated", "in the type table");
      if (id <= last) throw new SnapshotError("corrupt", "type table not in ascending order");
      last = id;
      const t = this.schema.type(id);
      if (!t) throw new SnapshotError("unknown_type", `${id} (type table)`);
      if (pd !== 0 && (common === 0 || pd <= common)) throw new SnapshotError("corrupt", `type ${id}: prediction source ${pd} not older than baseline ${common}`);
      const codes: FieldCode[] = [];
      for (const f of t.fields) {
        let k = 0;
        if (br.read(1) === 1) k = br.read(5) + 1;
        if (k > f.bits) throw new SnapshotError("corrupt", `type ${id}: k ${k} over ${f.bits} bits`);
        codes.push(fieldCode(k, f.bits));
      }
      table.push({ type: t, id, pd, codes });
    }
    if (br.bad) throw new SnapshotError("truncated", "in the type table");
    return table;
  }

  private parseDelta(br: BitIn, en: Entry, rec: Rec | undefined, ext: number, tick: number, common: number, byType: Map<number, TableEntry>): void {
    const id = en.id;
    let dist = common;
    let pd = 0;
    if (en.op === OP_DELTA) {
      if (br.read(1) === 1) dist = br.read(5);
      if (br.read(1) === 1) pd = br.read(5);
      if (br.bad) throw new SnapshotError("truncated", `in entity ${id}`);
    }
    if (dist === 0) throw new SnapshotError("corrupt", `entity ${id}: baseline distance 0`);
    const base = ext - dist;
    const slot = base % SLOTS;
    if (!rec || !rec.vals || rec.slotSeq[slot] !== base) throw new SnapshotError("missing_baseline", `entity ${id}, packet ${base & 0xffff}`);
    en.type = rec.slotType[slot]!;
    const te = byType.get(en.type);
    if (!te) throw new SnapshotError("corrupt", `entity ${id}: type ${en.type} not in the type table`);
    if (en.op === OP_COMMON) pd = te.pd;
    else if (pd !== 0 && pd <= dist) throw new SnapshotError("corrupt", `entity ${id}: prediction source ${pd} not older than baseline ${dist}`);
    const t = te.type;
    const fs = t.fields;
    const n = fs.length;
    const b1 = slot * this.stride;
    const out = new Array<number>(n);
    if (pd !== 0) {
      // Predicted from an older version and the baseline.
      const ps = (ext - pd) % SLOTS;
      if (rec.slotSeq[ps] !== ext - pd || rec.slotType[ps] !== en.type)
        throw new SnapshotError("missing_baseline", `entity ${id}, packet ${(ext - pd) & 0xffff} (prediction)`);
      const t1 = rec.slotTick[slot]!;
      const num = (tick - t1) >>> 0;
      const den = (t1 - rec.slotTick[ps]!) >>> 0;
      if (!(den >= 1 && den <= 65536 && num <= 65536)) throw new SnapshotError("corrupt", `entity ${id}: prediction over ticks ${num}/${den}`);
      predict(t, rec.vals, b1, ps * this.stride, out, num, den);
    } else {
      for (let i = 0; i < n; i++) out[i] = rec.vals[b1 + i]!;
    }
    // Per field: its code, read from the stream continued by zeros; a code that runs
    // past the end is caught after the entity (no field read from zeros can be
    // out of range: a zero class code leaves the reference).
    let p = br.pos;
    for (let i = 0; i < n; i++) {
      const f = fs[i]!;
      const cd = te.codes[i]!;
      let v = out[i]!;
      const cl = br.ones(p, CODE_CLASSES);
      if (cl < CODE_CLASSES) {
        const w = cd.w[cl]!;
        let u = br.at(p + cl + 1, w) + (cl > 0 ? cd.lim[cl - 1]! : 0);
        u %= 2 ** 32; // Go takes the residual as a uint32
        const d = u % 2 === 1 ? -(u + 1) / 2 : u / 2;
        v = mod2(v + d, f.bits);
        p += cl + 1 + w;
      } else {
        v = br.at(p + CODE_CLASSES, f.bits);
        p += CODE_CLASSES + f.bits;
      }
      if (v > f.maxq) throw new SnapshotError("corrupt", `entity ${id} field ${f.name} = ${v}`);
      this.vals.push(v);
    }
    if (p > br.end) throw new SnapshotError("truncated", `in entity ${id}`);
    br.pos = p;
    en.n = n;
  }

  private noteReceived(seq: number, ext: number): void {
    if (!this.have) {
      this.have = true;
      this.newest = seq;
      this.newExt = ext;
      this.mask = 0;
      return;
    }
    const diff = ext - this.newExt;
    if (diff > 0) {
      if (diff < 32) this.mask = ((this.mask << diff) | (1 << (diff - 1))) >>> 0;
      else if (diff === 32) this.mask = 0x80000000;
      else this.mask = 0;
      this.newest = seq;
      this.newExt = ext;
    } else if (diff < 0 && diff >= -32) {
      this.mask = (this.mask | (1 << (-diff - 1))) >>> 0;
    }
  }

  // apply stores an entry as a possible baseline and, if it is newer than what the
  // entity has, makes it current. It reports whether the current state changed.
  private apply(en: Entry, ext: number, tick: number): boolean {
    let r = en.rec;
    if (!r) {
      r = {
        id: en.id,
        vals: null,
        slotSeq: new Float64Array(SLOTS),
        slotTick: new Uint32Array(SLOTS),
        slotType: new Uint8Array(SLOTS),
        inWorld: false,
        hasLast: false,
        listed: false,
        last: 0,
        tick: 0,
      };
      this.recs.set(en.id, r);
    }
    const newer = !r.hasLast || ext > r.last;
    if (en.op === OP_REMOVE) {
      if (!newer) return false;
      r.hasLast = true;
      r.last = ext;
      if (!r.listed) {
        r.listed = true;
        this.tombs.push(r);
      }
      if (r.inWorld) {
        r.inWorld = false;
        this.world.delete(en.id);
        return true;
      }
      return false;
    }
    const q = this.vals.slice(en.off, en.off + en.n);
    const slot = ext % SLOTS;
    if (r.slotSeq[slot]! < ext) {
      if (!r.vals) r.vals = new Uint32Array(SLOTS * this.stride);
      r.slotSeq[slot] = ext;
      r.slotTick[slot] = tick;
      r.slotType[slot] = en.type;
      r.vals.set(q, slot * this.stride);
    }
    if (!newer) return false;
    r.hasLast = true;
    r.last = ext;
    r.tick = tick;
    r.inWorld = true;
    this.world.set(en.id, en.type, q);
    return true;
  }

  // purge forgets removed entities once no packet that could mention them is usable.
  private purge(): void {
    const keep: Rec[] = [];
    for (const r of this.tombs) {
      if (r.inWorld) r.listed = false;
      else if (this.newExt - r.last >= HISTORY) {
        r.listed = false;
        this.recs.delete(r.id);
      } else keep.push(r);
    }
    this.tombs = keep;
  }
}

// zerosBefore returns how many zero bits (at most 4) precede the first one bit at p:
// the index of an op's prefix code (4: the end marker).
function zerosBefore(br: BitIn, p: number): number {
  let z = 0;
  while (z < 4 && br.at(p + z, 1) === 0) z++;
  return z;
}

// mod2 returns x modulo 2^bits, non-negative, for |x| < 2^53.
function mod2(x: number, bits: number): number {
  const m = 2 ** bits;
  return ((x % m) + m) % m;
}

// predict is Go's predictDec: for fields of at least 5 bits,
// ref = b1 + round((b1-b0)·num/den), wrapped for angles and clamped otherwise.
function predict(t: EntityType, vals: Uint32Array, b1: number, b0: number, out: number[], num: number, den: number): void {
  const half = Math.floor(den / 2);
  t.fields.forEach((f, i) => {
    let p = vals[b1 + i]!;
    if (f.bits >= 5) {
      let d = p - vals[b0 + i]!;
      if (f.kind === "angle") {
        d = mod2(d, f.bits);
        if (d >= 2 ** (f.bits - 1)) d -= 2 ** f.bits;
      }
      if (d !== 0) {
        // |d| < 2^32 and num <= 2^16: x is exact in a double.
        const x = d * num;
        const step = x < 0 ? Math.trunc((x - half) / den) : Math.trunc((x + half) / den);
        const v = p + step;
        p = f.kind === "angle" ? mod2(v, f.bits) : Math.max(0, Math.min(f.maxq, v));
      }
    }
    out[i] = p;
  });
}

/** dequantize returns an entity's fields by name (a convenience around EntityType.values). */
export function dequantize(schema: Schema, type: number, values: ArrayLike<number>): EntityValues | undefined {
  return schema.type(type)?.values(values);
}
