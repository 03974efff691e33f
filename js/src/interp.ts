// The interpolation buffer: a port of netcode's interpBuffer.

import type { Schema } from "./schema.js";
import { World } from "./snapshot.js";

/**
 * InterpBuffer keeps the decoded world at recent ticks and samples it at fractional
 * ticks: floats blended linearly, angles the short way round, integers and booleans
 * held, and no blending across a change of a teleport field.
 */
export class InterpBuffer {
  private readonly entries: { tick: number; world: World }[] = [];
  private readonly size: number;

  constructor(
    private readonly schema: Schema,
    size: number,
  ) {
    this.size = Math.max(2, size);
  }

  /**
   * store records w as the state at tick; it reports false if tick is older than the
   * newest entry (an out-of-order packet, which the newest entry already reflects).
   */
  store(tick: number, w: World): boolean {
    const newest = this.entries[this.entries.length - 1];
    if (newest) {
      const d = (tick - newest.tick) | 0;
      if (d < 0) return false;
      if (d === 0) {
        newest.world.copyFrom(w);
        return true;
      }
    }
    const e = this.entries.length === this.size ? this.entries.shift()! : { tick: 0, world: new World(this.schema) };
    e.tick = tick;
    e.world.copyFrom(w);
    this.entries.push(e);
    return true;
  }

  /** newest returns the latest entry. */
  newest(): { tick: number; world: World } | undefined {
    return this.entries[this.entries.length - 1];
  }

  /** sample writes into dst the world at fractional tick rt; false if the buffer is empty. */
  sample(dst: World, rt: number): boolean {
    const es = this.entries;
    const n = es.length;
    if (n === 0) return false;
    if (n === 1 || rt <= es[0]!.tick) {
      dst.copyFrom(es[0]!.world); // the only one, or the oldest
      return true;
    }
    if (rt >= es[n - 1]!.tick) {
      dst.copyFrom(es[n - 1]!.world);
      return true;
    }
    let i = 1;
    while (es[i]!.tick <= rt) i++;
    const a = es[i - 1]!,
      c = es[i]!;
    const t = (rt - a.tick) / (c.tick - a.tick);
    dst.clear();
    c.world.forEach((id, type, qc) => {
      const ea = a.world.get(id);
      const tp = this.schema.type(type);
      if (!ea || ea.type !== type || !tp || tp.teleported(ea.values, qc)) {
        dst.set(id, type, qc);
        return;
      }
      const out = new Uint32Array(qc.length);
      tp.fields.forEach((f, k) => {
        const qa = ea.values[k]!,
          q = qc[k]!;
        switch (f.kind) {
          case "float":
            out[k] = Math.floor(qa + (q - qa) * t + 0.5);
            break;
          case "angle": {
            const mod = 2 ** f.bits;
            let d = (((q - qa) % mod) + mod) % mod;
            if (d > mod / 2) d -= mod;
            const v = qa + Math.trunc(d * t + (d < 0 ? -0.5 : 0.5));
            out[k] = ((v % mod) + mod) % mod;
            break;
          }
          default:
            out[k] = qa;
        }
      });
      dst.set(id, type, out);
    });
    return true;
  }
}
