// Snapshot schemas: the descriptor a Go game exports (snapshot.Registry.Schema), its
// canonical bytes and fingerprint, and dequantization of entity values.

import { VolleyError } from "./errors.js";
import { hex, sha256 } from "./sha256.js";

/** How a field is quantized (docs/protocol.md, "Schema descriptor"). */
export type FieldKind = "int" | "float" | "angle" | "bool";

/** One field of an entity type, as the descriptor lists it. */
export interface FieldDescriptor {
  name: string;
  kind: FieldKind;
  /** Bits of a quantized value, 1..32. */
  bits: number;
  /** The largest valid quantized value. */
  maxq: number;
  /** Range of int and float fields. */
  min?: number;
  max?: number;
  /** Step of float fields. */
  prec?: number;
  /** A change is a discontinuity: interpolation does not blend across it. */
  teleport?: boolean;
}

/** One entity type. */
export interface TypeDescriptor {
  id: number;
  name: string;
  fields: FieldDescriptor[];
}

/** A schema descriptor, version 1. */
export interface SchemaDescriptor {
  version: number;
  types: TypeDescriptor[];
}

/** The descriptor format this package reads. */
export const SCHEMA_VERSION = 1;

/** A dequantized entity: its fields by name (numbers; booleans for bool fields). */
export type EntityValues = Record<string, number | boolean>;

/** A compiled entity type. */
export class EntityType {
  readonly id: number;
  readonly name: string;
  readonly fields: readonly FieldDescriptor[];
  /** Indexes of the teleport fields. */
  readonly teleports: readonly number[];

  constructor(d: TypeDescriptor) {
    this.id = d.id;
    this.name = d.name;
    this.fields = d.fields;
    this.teleports = d.fields.flatMap((f, i) => (f.teleport ? [i] : []));
  }

  /** value dequantizes field i's quantized value q. */
  value(i: number, q: number): number | boolean {
    const f = this.fields[i]!;
    switch (f.kind) {
      case "int":
        return f.min! + q;
      case "float":
        return f.min! + q * f.prec!;
      case "angle": {
        // [-π, π): the upper half of the circle maps to negative angles.
        const turn = 2 ** f.bits;
        const s = q >= turn / 2 ? q - turn : q;
        return (s * (2 * Math.PI)) / turn;
      }
      case "bool":
        return q !== 0;
    }
  }

  /** values dequantizes a whole entity into an object keyed by field name. */
  values(q: ArrayLike<number>): EntityValues {
    const out: EntityValues = {};
    for (let i = 0; i < this.fields.length; i++) out[this.fields[i]!.name] = this.value(i, q[i]!);
    return out;
  }

  /** teleported reports whether a teleport field differs between two versions. */
  teleported(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
    for (const i of this.teleports) if (a[i] !== b[i]) return true;
    return false;
  }
}

/**
 * Schema is a parsed, checked descriptor: what the snapshot decoder and the welcome
 * check need. Build it from the JSON a Go game exports (`go run ./examples/arena/cmd/schema`
 * for the arena) or from the parsed object.
 */
export class Schema {
  readonly descriptor: SchemaDescriptor;
  /** Canonical JSON of the descriptor (byte for byte what the Go export writes). */
  readonly canonical: string;
  /** The fingerprint hosts announce in their welcome: 16 hex digits. */
  readonly fingerprint: string;
  /** The most fields any type has. */
  readonly maxFields: number;
  private readonly byId: (EntityType | undefined)[] = new Array(256);

  private constructor(d: SchemaDescriptor) {
    this.descriptor = d;
    this.canonical = canonicalJSON(d, true);
    this.fingerprint = hex(sha256(new TextEncoder().encode(canonicalJSON(d, false))).subarray(0, 8));
    let most = 0;
    for (const t of d.types) {
      this.byId[t.id] = new EntityType(t);
      most = Math.max(most, t.fields.length);
    }
    this.maxFields = Math.max(most, 1);
  }

  /** parse checks a descriptor (JSON text or object) and compiles it. Throws VolleyError "schema". */
  static parse(src: string | SchemaDescriptor): Schema {
    let d: unknown = src;
    if (typeof src === "string") {
      try {
        d = JSON.parse(src);
      } catch (e) {
        throw new VolleyError("schema", `schema descriptor is not JSON: ${String(e)}`);
      }
    }
    return new Schema(checkDescriptor(d));
  }

  /** type returns the entity type with that ID. */
  type(id: number): EntityType | undefined {
    return this.byId[id];
  }

  /** types lists the entity types in ascending ID order. */
  types(): EntityType[] {
    return this.byId.filter((t): t is EntityType => t !== undefined);
  }
}

function bad(msg: string): never {
  throw new VolleyError("schema", `bad schema descriptor: ${msg}`);
}

const isInt = (x: unknown, lo: number, hi: number): x is number =>
  typeof x === "number" && Number.isInteger(x) && x >= lo && x <= hi;
const isNum = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);

// checkDescriptor applies the rules of Go's snapshot.ParseSchema.
function checkDescriptor(d: unknown): SchemaDescriptor {
  if (typeof d !== "object" || d === null) bad("not an object");
  const o = d as Record<string, unknown>;
  if (o.version !== SCHEMA_VERSION) bad(`version ${String(o.version)}, want ${SCHEMA_VERSION}`);
  if (!Array.isArray(o.types)) bad("no types");
  const types: TypeDescriptor[] = [];
  let prev = -1;
  for (const t of o.types as unknown[]) {
    const to = (t ?? {}) as Record<string, unknown>;
    if (!isInt(to.id, 0, 255) || to.id <= prev) bad(`type id ${String(to.id)} out of range or order`);
    prev = to.id;
    if (!Array.isArray(to.fields) || to.fields.length > 255) bad(`type ${to.id}: fields`);
    const fields: FieldDescriptor[] = [];
    for (const f of to.fields as unknown[]) fields.push(checkField(to.id, (f ?? {}) as Record<string, unknown>));
    types.push({ id: to.id, name: typeof to.name === "string" ? to.name : "", fields });
  }
  return { version: SCHEMA_VERSION, types };
}

function checkField(id: number, f: Record<string, unknown>): FieldDescriptor {
  const where = `type ${id} field ${JSON.stringify(f.name)}`;
  if (!isInt(f.bits, 1, 32)) bad(`${where}: bits ${String(f.bits)}`);
  const bits = f.bits;
  if (!isInt(f.maxq, bits > 1 ? 2 ** (bits - 1) : 0, 2 ** bits - 1)) bad(`${where}: maxq ${String(f.maxq)} does not take ${bits} bits`);
  const out: FieldDescriptor = { name: typeof f.name === "string" ? f.name : "", kind: "int", bits, maxq: f.maxq };
  switch (f.kind) {
    case "int":
    case "float":
      if (!isNum(f.min) || !isNum(f.max)) bad(`${where}: ${f.kind} without min and max`);
      out.kind = f.kind;
      out.min = f.min;
      out.max = f.max;
      if (f.kind === "float") {
        if (!isNum(f.prec)) bad(`${where}: float without prec`);
        out.prec = f.prec;
      }
      break;
    case "angle":
      if (f.maxq !== 2 ** bits - 1) bad(`${where}: angle maxq`);
      out.kind = "angle";
      break;
    case "bool":
      if (bits !== 1) bad(`${where}: bool of ${bits} bits`);
      out.kind = "bool";
      break;
    default:
      bad(`${where}: unknown kind ${JSON.stringify(f.kind)}`);
  }
  if (f.teleport === true) out.teleport = true;
  return out;
}

// num writes a number as Go's encoding/json does (JSON.stringify, except for -0).
const num = (x: number): string => (Object.is(x, -0) ? "-0" : JSON.stringify(x));

/**
 * canonicalJSON writes a descriptor in the canonical form of Go's Schema.JSON (names
 * true) or the form its fingerprint hashes (names false: every "name" member left out).
 */
export function canonicalJSON(d: SchemaDescriptor, names: boolean): string {
  const types = d.types.map((t) => {
    const fields = t.fields.map((f) => {
      let s = "{" + (names ? `"name":${JSON.stringify(f.name)},` : "");
      s += `"kind":${JSON.stringify(f.kind)},"bits":${f.bits},"maxq":${f.maxq}`;
      if (f.min !== undefined) s += `,"min":${num(f.min)}`;
      if (f.max !== undefined) s += `,"max":${num(f.max)}`;
      if (f.prec !== undefined) s += `,"prec":${num(f.prec)}`;
      if (f.teleport) s += `,"teleport":true`;
      return s + "}";
    });
    return `{"id":${t.id}` + (names ? `,"name":${JSON.stringify(t.name)}` : "") + `,"fields":[${fields.join(",")}]}`;
  });
  return `{"version":${d.version},"types":[${types.join(",")}]}`;
}
