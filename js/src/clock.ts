// Clock sync: a port of netcode's clockSync. Times are milliseconds.

/** A client's view of the host clock. */
export interface ClockEstimate {
  /** False until the first ping round trip completes. */
  synced: boolean;
  /** Smoothed round-trip time, ms. */
  rtt: number;
  /** Round-trip variation, ms. */
  jitter: number;
  /** Host time minus local time (ms), where host time counts from the host's tick 0. */
  offset: number;
  /** The tick the host is estimated to be running now (fractional). */
  hostTick: number;
}

const WINDOW = 16;
const MAX_SLEW = 2; // ms per sample; larger errors slew at this rate
const SNAP_SKEW = 50; // ms; larger errors snap

/**
 * ClockSync estimates RTT, jitter and the host clock offset from ping/pong samples:
 * it keeps the offset of the lowest-RTT sample of a recent window (the one least
 * skewed by queueing) and slews towards a new estimate unless it is far off. Until the
 * window is full, RTT and jitter are window medians; then they are smoothed.
 */
export class ClockSync {
  private samples: { rtt: number; offset: number }[] = [];
  private next = 0;
  have = false;
  rtt = 0;
  jitter = 0;
  offset = 0;
  private last = 0;

  /** add records a sample: sent and received are local times (ms), host the host's clock (ms). */
  add(sent: number, received: number, host: number): void {
    const rtt = received - sent;
    if (rtt < 0) return;
    const off = host + rtt / 2 - received;
    this.samples[this.next] = { rtt, offset: off };
    this.next = (this.next + 1) % WINDOW;
    let best = this.samples[0]!;
    for (const s of this.samples) if (s.rtt < best.rtt) best = s;
    if (this.samples.length < WINDOW) {
      // Warming up: medians, so that slow first round trips are outvoted at once.
      const rtts = this.samples.map((s) => s.rtt);
      this.rtt = lowerMedian(rtts);
      this.jitter = lowerMedian(rtts.map((r) => Math.abs(r - this.rtt)));
    } else {
      this.rtt += (rtt - this.rtt) / 8;
      this.jitter += (Math.abs(rtt - this.last) - this.jitter) / 16;
    }
    this.last = rtt;
    if (!this.have) {
      this.have = true;
      this.offset = best.offset;
      return;
    }
    const diff = best.offset - this.offset;
    if (Math.abs(diff) > SNAP_SKEW) this.offset = best.offset;
    else if (diff > MAX_SLEW) this.offset += MAX_SLEW;
    else if (diff < -MAX_SLEW) this.offset -= MAX_SLEW;
    else this.offset = best.offset;
  }
}

// lowerMedian returns the lower median of xs (not empty).
function lowerMedian(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[(s.length - 1) >> 1]!;
}
