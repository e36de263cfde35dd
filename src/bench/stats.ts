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

/** Records latencies (in milliseconds, kept at microsecond resolution) into an HDR histogram. */
export class LatencyRecorder {
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
    this.histogram.recordValue(Math.max(us, 0));
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  summary(): LatencySummary {
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
