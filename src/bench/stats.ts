import hdr from 'hdr-histogram-js';

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Latencies below this many microseconds are counted in a flat array first: one increment per message. */
const FLAT_US = 2_000_000;

/**
 * Records latencies (in milliseconds, kept at microsecond resolution) into an HDR histogram. The hot
 * path only increments a counter per microsecond value; counts move into the histogram when a
 * summary is asked for, so recording a million samples a second stays cheap.
 */
export class LatencyRecorder {
  private readonly flat = new Uint32Array(FLAT_US);
  private flatCount = 0;
  private readonly histogram = hdr.build({
    bitBucketSize: 32,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });

  /** Negative values (clock skew between processes) are recorded as 0. */
  record(ms: number): void {
    const us = Math.round(ms * 1000);
    if (us < FLAT_US) {
      this.flat[Math.max(us, 0)]!++;
      this.flatCount++;
    } else {
      this.histogram.recordValue(us);
    }
  }

  get count(): number {
    return this.histogram.totalCount + this.flatCount;
  }

  private flush(): void {
    if (this.flatCount === 0) return;
    const flat = this.flat;
    for (let us = 0; us < FLAT_US; us++) {
      const n = flat[us]!;
      if (n > 0) this.histogram.recordValueWithCount(us, n);
    }
    flat.fill(0);
    this.flatCount = 0;
  }

  summary(): LatencySummary {
    this.flush();
    const h = this.histogram;
    if (h.totalCount === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
    return {
      count: h.totalCount,
      mean: round3(h.mean / 1000),
      p50: round3(h.getValueAtPercentile(50) / 1000),
      p90: round3(h.getValueAtPercentile(90) / 1000),
      p99: round3(h.getValueAtPercentile(99) / 1000),
      max: round3(h.maxValue / 1000),
    };
  }
}

export function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** CPU time of this process as a percentage of one core over a wall-clock interval. */
export class CpuMeter {
  private startCpu = process.cpuUsage();
  private startWall = performance.now();

  reset(): void {
    this.startCpu = process.cpuUsage();
    this.startWall = performance.now();
  }

  percent(): number {
    const cpu = process.cpuUsage(this.startCpu);
    const wallMs = performance.now() - this.startWall;
    if (wallMs <= 0) return 0;
    return Math.round(((cpu.user + cpu.system) / 1000 / wallMs) * 1000) / 10;
  }
}
