import type { ProtocolVersion } from '../protocol/packets.js';
import { BenchClient, type BenchClientEvents } from './client.js';
import type { LinkOptions } from './link.js';
import { LatencyRecorder, type LatencySummary, round3 } from './stats.js';

export interface ConnOptions extends LinkOptions {
  protocolVersion: ProtocolVersion;
  connections: number;
  /** New connections per second; undefined opens them as fast as `parallel` allows. */
  rate?: number;
  /** Most connection attempts in progress at once. Default 100. */
  parallel?: number;
  clientIdPrefix: string;
  keepAlive: number;
  username?: string;
  password?: string;
  onProgress?: (sample: { elapsedS: number; connections: number; failures: number }) => void;
}

export interface ConnSummary {
  url: string;
  protocolVersion: ProtocolVersion;
  requested: number;
  connected: number;
  failures: number;
  /** Connections the broker closed while they were held. */
  dropped: number;
  /** Time to open all connections, seconds. */
  openS: number;
  /** How long they were held, seconds. */
  heldS: number;
  /** Link setup plus CONNECT to CONNACK. */
  connectLatencyMs: LatencySummary;
  firstError?: string;
}

/** Idle connections held open, e.g. to measure a broker's memory per connection. */
export class ConnectionSet implements BenchClientEvents {
  readonly clients: BenchClient[] = [];
  failures = 0;
  dropped = 0;
  firstError: string | undefined;
  openS = 0;
  readonly latency = new LatencyRecorder();

  /** Opens the connections; failures are counted, not thrown. Bounded by the connect timeout of each. */
  async open(o: ConnOptions): Promise<void> {
    const started = performance.now();
    const parallel = Math.max(1, o.parallel ?? 100);
    let next = 0;
    const beat = setInterval(
      () =>
        o.onProgress?.({
          elapsedS: round3((performance.now() - started) / 1000),
          connections: this.connected,
          failures: this.failures,
        }),
      1000,
    );
    const worker = async () => {
      while (next < o.connections) {
        const i = next++;
        if (o.rate) {
          const wait = started + (i / o.rate) * 1000 - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        }
        const client = new BenchClient(
          {
            url: o.url,
            insecure: o.insecure,
            caFile: o.caFile,
            connectTimeoutMs: o.connectTimeoutMs,
            clientId: `${o.clientIdPrefix}-conn-${i}`,
            protocolVersion: o.protocolVersion,
            keepAlive: o.keepAlive,
            clean: true,
            username: o.username,
            password: o.password,
          },
          i,
          this,
        );
        try {
          this.latency.record(await client.connect());
          this.clients.push(client);
        } catch (err) {
          this.failures++;
          this.firstError ??= (err as Error).message;
          client.destroy();
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(parallel, o.connections) }, worker));
    } finally {
      clearInterval(beat);
    }
    this.openS = (performance.now() - started) / 1000;
  }

  get connected(): number {
    let n = 0;
    for (const c of this.clients) if (c.connected) n++;
    return n;
  }

  /** Disconnects every connection, in parallel batches. */
  async close(): Promise<void> {
    const batch = 500;
    for (let i = 0; i < this.clients.length; i += batch) {
      await Promise.all(this.clients.slice(i, i + batch).map((c) => c.close()));
    }
  }

  onMessage(): void {}
  onReady(): void {}
  onLost(): void {
    this.dropped++;
  }
}

/** Opens N connections, holds them for `holdS` seconds, closes them and reports. */
export async function runConnections(o: ConnOptions, holdS: number): Promise<ConnSummary> {
  const set = new ConnectionSet();
  try {
    await set.open(o);
    const heldFrom = performance.now();
    const until = heldFrom + holdS * 1000;
    // Bounded by the hold time; wakes each second for progress.
    while (performance.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000, until - performance.now())));
      o.onProgress?.({
        elapsedS: round3(set.openS + (performance.now() - heldFrom) / 1000),
        connections: set.connected,
        failures: set.failures,
      });
    }
    return {
      url: o.url.href,
      protocolVersion: o.protocolVersion,
      requested: o.connections,
      connected: set.connected,
      failures: set.failures,
      dropped: set.dropped,
      openS: round3(set.openS),
      heldS: round3((performance.now() - heldFrom) / 1000),
      connectLatencyMs: set.latency.summary(),
      firstError: set.firstError,
    };
  } finally {
    await set.close();
  }
}
