import type { ProtocolVersion, QoS } from '../protocol/packets.js';
import { BenchClient, type BenchClientEvents, type BenchClientOptions } from './client.js';
import type { LinkOptions } from './link.js';
import { newRunId, readPublisher, readRunId, readSentAt, readSeq, STAMP_BYTES, stampNow } from './payload.js';
import { CpuMeter, LatencyRecorder, type LatencySummary, round3 } from './stats.js';
import { expandTemplate, topicMatches } from './topic-match.js';

export interface LoadOptions extends LinkOptions {
  protocolVersion: ProtocolVersion;
  /** Number of publishing clients (0 for a subscribe-only run). */
  publishers: number;
  /** Number of subscribing clients (0 for a publish-only run). */
  subscribers: number;
  /** Topic each publisher publishes to; `%i` is the publisher number. */
  topic: string;
  /** Filter each subscriber subscribes to; `%i` is the subscriber number. */
  filter: string;
  qos: QoS;
  subscribeQos: QoS;
  payloadSize: number;
  /** Most messages each publisher sends (a safety bound; the run also ends after the window); subscribe-only: messages each subscriber waits for. */
  count: number;
  /** Total messages per second over all publishers; undefined publishes as fast as the broker takes them. */
  rate?: number;
  /** Seconds before measuring starts (connections are already up). */
  warmupS: number;
  /** The measurement window in seconds. */
  durationS: number;
  /** Most QoS 1/2 messages in flight per publisher. */
  window: number;
  /**
   * Most messages per publisher sent but not yet seen by every matching subscriber of this run
   * (closed loop). Without it, QoS 0 publishers send as fast as the broker reads, and a broker that
   * reads faster than it delivers queues and drops; with it, the run measures sustained delivery.
   */
  endToEndWindow?: number;
  /** Most seconds to wait after publishing for acks and deliveries to arrive. */
  drainTimeoutS: number;
  clientIdPrefix: string;
  keepAlive: number;
  username?: string;
  password?: string;
  /** New connections per second while setting up; undefined opens them 50 at a time. */
  connectRate?: number;
  /** Called when the measurement window opens and closes, e.g. to read a broker's CPU time. */
  onWindow?: (edge: 'start' | 'end') => void;
  /** Called about once a second while messages flow. */
  onProgress?: (sample: ProgressSample) => void;
}

export interface ProgressSample {
  elapsedS: number;
  sentPerSec: number;
  receivedPerSec: number;
  connections: number;
  errors: number;
}

export interface LoadSummary {
  url: string;
  protocolVersion: ProtocolVersion;
  qos: QoS;
  subscribeQos: QoS;
  publishers: number;
  subscribers: number;
  payloadSize: number;
  /** Length of the measurement window actually used, seconds. */
  windowS: number;
  /** Messages published in the window, per second. */
  sentPerSec: number;
  /** Messages delivered to subscribers in the window, per second (every copy counts). */
  receivedPerSec: number;
  /** Totals over the whole run, warm-up and drain included. */
  sent: number;
  acked: number;
  received: number;
  /** Deliveries the subscribers should have seen (for every matching publisher, its acknowledged messages). */
  expected: number;
  /** QoS 1/2 deliveries that never arrived: must be 0. */
  losses: number;
  /** QoS 0 deliveries that never arrived (allowed by the protocol, reported for information). */
  dropped: number;
  /** Deliveries seen twice or out of order. */
  duplicates: number;
  /** Messages of other runs or without a Starling stamp. */
  stray: number;
  /** QoS 1/2 messages the broker refused (reason code 0x80 or above): not expected at subscribers. */
  rejected: number;
  /** QoS 1/2 messages never acknowledged (connection lost, or no ack before the drain timeout). */
  unacked: number;
  /**
   * Latency from the publisher's write to the subscriber's read, for messages received in the window: all of them
   * in a paced run (--rate), one in 8 otherwise.
   */
  latencyMs: LatencySummary;
  connectFailures: number;
  reconnects: number;
  errors: number;
  /** This process's CPU use during the window, percent of one core: near 100 means the generator was the bottleneck. */
  generatorCpuPercent: number;
}

const QOS0_BATCH = 128;
/** Unpaced runs record the latency of one message in this many (a power of two). */
const LATENCY_SAMPLE = 8;
const MAX_BATCH = 1000;
const CONNECT_PARALLEL = 50;
const MAX_RECONNECTS_PER_CLIENT = 10;

/** Messages a subscriber saw from each publisher, for counting losses and duplicates. */
interface Track {
  next: Uint32Array;
  unique: Uint32Array;
}

/**
 * Runs publishers and subscribers against a broker and measures what the subscribers receive:
 * messages per second over a window after warm-up, latency from stamps in the payload, and losses
 * from per-publisher sequence numbers. Every phase is bounded in time; the run stops by itself.
 */
export class LoadRun implements BenchClientEvents {
  readonly options: LoadOptions;
  readonly runId = newRunId();
  private readonly publishers: BenchClient[] = [];
  private readonly subscribers: BenchClient[] = [];
  private readonly tracks: Track[] = [];
  private readonly latency = new LatencyRecorder();
  private unsampled = 0;
  private readonly cpu = new CpuMeter();
  private measuring = false;
  private publishing = false;
  private running = false;
  private pumpScheduled = false;
  private duplicates = 0;
  private stray = 0;
  private errors = 0;
  private reconnects = 0;
  private connectFailures = 0;
  private lastReceivedAt = 0;
  private readonly reconnectCounts = new Map<BenchClient, number>();
  /** Subscribe-only runs: per subscriber, per (run id, publisher), the next sequence and the count seen. */
  private readonly foreign: Map<number, { next: number; unique: number }>[] = [];
  /** For each publisher, the subscribers whose filter matches its topic. */
  private matching: number[][] = [];
  /** Per publisher: messages below this sequence no longer count against the end-to-end window. */
  private windowFloor = new Float64Array(0);
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(options: LoadOptions) {
    if (options.publishers > 0 && options.payloadSize < STAMP_BYTES) {
      throw new Error(`payload size must be at least ${STAMP_BYTES} bytes (send time, run id, publisher, sequence)`);
    }
    this.options = options;
  }

  async run(): Promise<LoadSummary> {
    this.running = true;
    try {
      await this.connectAll();
      return await this.measure();
    } finally {
      this.running = false;
      this.publishing = false;
      for (const t of this.timers) clearTimeout(t);
      this.timers.clear();
      await Promise.all([...this.publishers, ...this.subscribers].map((c) => c.close()));
    }
  }

  private clientOptions(role: 'pub' | 'sub', index: number): BenchClientOptions {
    const o = this.options;
    return {
      url: o.url,
      insecure: o.insecure,
      caFile: o.caFile,
      connectTimeoutMs: o.connectTimeoutMs,
      clientId: `${o.clientIdPrefix}-${role}-${index}`,
      protocolVersion: o.protocolVersion,
      keepAlive: o.keepAlive,
      clean: true,
      username: o.username,
      password: o.password,
    };
  }

  private async connectAll(): Promise<void> {
    const o = this.options;
    for (let i = 0; i < o.subscribers; i++) {
      this.subscribers.push(new BenchClient(this.clientOptions('sub', i), i, this));
      this.tracks.push({ next: new Uint32Array(o.publishers), unique: new Uint32Array(o.publishers) });
    }
    for (let i = 0; i < o.publishers; i++) {
      const client = new BenchClient(this.clientOptions('pub', i), i, this);
      client.preparePublish(expandTemplate(o.topic, i), o.qos, o.payloadSize);
      this.publishers.push(client);
    }
    this.matching = this.publishers.map((_, p) =>
      this.subscribers
        .map((_, s) => s)
        .filter((s) => topicMatches(expandTemplate(o.filter, s), expandTemplate(o.topic, p))),
    );
    this.windowFloor = new Float64Array(o.publishers);
    // Subscribers first, so that nothing published is missed.
    await this.connectEach(this.subscribers, (c) => c.subscribe([expandTemplate(o.filter, c.index)], o.subscribeQos));
    await this.connectEach(this.publishers, async () => {});
  }

  private async connectEach(clients: BenchClient[], then: (c: BenchClient) => Promise<void>): Promise<void> {
    const rate = this.options.connectRate;
    const started = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < clients.length) {
        const i = next++;
        if (rate) {
          const due = started + (i / rate) * 1000;
          const wait = due - performance.now();
          if (wait > 0) await this.sleep(wait);
        }
        const c = clients[i]!;
        try {
          await c.connect();
          await then(c);
        } catch (err) {
          this.connectFailures++;
          throw err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONNECT_PARALLEL, clients.length) }, worker));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private async measure(): Promise<LoadSummary> {
    const o = this.options;
    const started = performance.now();
    const deadline = started + (o.warmupS + o.durationS) * 1000;
    this.publishing = o.publishers > 0;
    let ticker: NodeJS.Timeout | undefined;
    if (o.rate !== undefined && o.publishers > 0) {
      const perPublisher = o.rate / o.publishers;
      ticker = setInterval(() => this.pace(started, perPublisher), 1);
    } else {
      this.schedulePump();
    }

    // Progress and window bookkeeping, on a 1 s beat; the loop is bounded by the deadline.
    let windowStart = 0;
    let sentAtStart = 0;
    let receivedAtStart = 0;
    let windowEnd = 0;
    let sentAtEnd = 0;
    let receivedAtEnd = 0;
    let lastSent = 0;
    let lastReceived = 0;
    let lastBeat = started;
    const warmupEnd = started + o.warmupS * 1000;
    if (o.warmupS === 0) {
      this.startWindow();
      windowStart = started;
    }
    while (true) {
      const now = performance.now();
      if (windowStart === 0 && now >= warmupEnd) {
        this.startWindow();
        windowStart = now;
        sentAtStart = this.totalSent();
        receivedAtStart = this.totalReceived();
      }
      if (now - lastBeat >= 1000) {
        const sent = this.totalSent();
        const received = this.totalReceived();
        const secs = (now - lastBeat) / 1000;
        o.onProgress?.({
          elapsedS: round3((now - started) / 1000),
          sentPerSec: Math.round((sent - lastSent) / secs),
          receivedPerSec: Math.round((received - lastReceived) / secs),
          connections: this.connectedCount(),
          errors: this.errors,
        });
        lastSent = sent;
        lastReceived = received;
        lastBeat = now;
      }
      if (now >= deadline) break;
      if (o.endToEndWindow !== undefined && now + performance.timeOrigin - this.lastReceivedAt > 200) {
        // Nothing arrived for a while: what is outstanding was dropped (QoS 0) and must not stall the run.
        for (const p of this.publishers) this.windowFloor[p.index] = p.sent;
        this.schedulePump();
      }
      if (this.publishersDone() && o.publishers > 0 && this.deliveriesSettled(now)) break;
      // Subscribe-only with a count: done when every subscriber has its messages.
      if (
        o.publishers === 0 &&
        o.count < Number.POSITIVE_INFINITY &&
        this.subscribers.every((s) => s.received >= o.count)
      ) {
        break;
      }
      await this.sleep(Math.min(50, Math.max(1, deadline - now)));
    }
    this.measuring = false;
    this.options.onWindow?.('end');
    windowEnd = performance.now();
    sentAtEnd = this.totalSent();
    receivedAtEnd = this.totalReceived();
    if (this.publishersDone() && this.lastReceivedAt > 0) {
      // All messages were delivered before the window ended: the window ends with the last delivery.
      windowEnd = Math.min(windowEnd, this.lastReceivedAt - performance.timeOrigin);
    }
    const generatorCpuPercent = this.cpu.percent();
    this.publishing = false;
    if (ticker) clearInterval(ticker);
    await this.drain();

    const windowS = Math.max((windowEnd - windowStart) / 1000, 0.001);
    let expected = 0;
    let missing = 0;
    const topics = this.publishers.map((_, i) => expandTemplate(o.topic, i));
    for (let s = 0; s < this.subscribers.length; s++) {
      const filter = expandTemplate(o.filter, s);
      const track = this.tracks[s]!;
      for (let p = 0; p < this.publishers.length; p++) {
        if (!topicMatches(filter, topics[p]!)) continue;
        const pub = this.publishers[p]!;
        expected += pub.acked;
        missing += Math.max(0, pub.acked - track.unique[p]!);
      }
    }
    if (o.publishers === 0) {
      // Subscribe-only: losses are the gaps in each publisher's sequence (a lost tail goes unseen).
      for (const tracks of this.foreign) {
        for (const track of tracks?.values() ?? []) missing += track.next - track.unique;
      }
    }
    const effectiveQos = Math.min(o.qos, o.subscribeQos);
    return {
      url: o.url.href,
      protocolVersion: o.protocolVersion,
      qos: o.qos,
      subscribeQos: o.subscribeQos,
      publishers: o.publishers,
      subscribers: o.subscribers,
      payloadSize: o.payloadSize,
      windowS: round3(windowS),
      sentPerSec: Math.round((sentAtEnd - sentAtStart) / windowS),
      receivedPerSec: Math.round((receivedAtEnd - receivedAtStart) / windowS),
      sent: this.totalSent(),
      acked: this.publishers.reduce((n, c) => n + c.acked, 0),
      received: this.totalReceived(),
      expected,
      losses: effectiveQos > 0 || o.publishers === 0 ? missing : 0,
      dropped: effectiveQos === 0 && o.publishers > 0 ? missing : 0,
      duplicates: this.duplicates,
      stray: this.stray,
      rejected: this.publishers.reduce((n, c) => n + c.rejected, 0),
      unacked: this.publishers.reduce((n, c) => n + c.abandoned + c.inflight, 0),
      latencyMs: this.latency.summary(),
      connectFailures: this.connectFailures,
      reconnects: this.reconnects,
      errors: this.errors,
      generatorCpuPercent,
    };
  }

  private startWindow(): void {
    this.measuring = true;
    this.cpu.reset();
    this.options.onWindow?.('start');
  }

  /** After publishing stops: wait (bounded) for acks, then for deliveries to stop arriving. */
  private async drain(): Promise<void> {
    const limit = performance.now() + this.options.drainTimeoutS * 1000;
    while (performance.now() < limit && this.publishers.some((p) => p.inflight > 0 && p.connected)) {
      await this.sleep(10);
    }
    while (performance.now() < limit && !this.deliveriesSettled(performance.now())) {
      await this.sleep(10);
    }
  }

  /** Every subscriber has everything it should get, or nothing arrived for 500 ms. */
  private deliveriesSettled(now: number): boolean {
    if (this.subscribers.length === 0) return true;
    if (this.totalReceived() >= this.expectedDeliveries()) return true;
    return this.lastReceivedAt > 0 && now + performance.timeOrigin - this.lastReceivedAt > 500;
  }

  private expectedDeliveries(): number {
    const o = this.options;
    let n = 0;
    for (let s = 0; s < this.subscribers.length; s++) {
      const filter = expandTemplate(o.filter, s);
      for (let p = 0; p < this.publishers.length; p++) {
        if (topicMatches(filter, expandTemplate(o.topic, p))) n += this.publishers[p]!.acked;
      }
    }
    return n;
  }

  private publishersDone(): boolean {
    const count = this.options.count;
    return this.publishers.every((p) => p.sent >= count && p.inflight === 0);
  }

  private totalSent(): number {
    let n = 0;
    for (const p of this.publishers) n += p.sent;
    return n;
  }

  private totalReceived(): number {
    let n = 0;
    for (const s of this.subscribers) n += s.received;
    return n;
  }

  private connectedCount(): number {
    let n = 0;
    for (const c of this.publishers) if (c.connected) n++;
    for (const c of this.subscribers) if (c.connected) n++;
    return n;
  }

  private schedulePump(): void {
    if (this.pumpScheduled || !this.publishing) return;
    this.pumpScheduled = true;
    setImmediate(this.pump);
  }

  /** As fast as the broker takes them: QoS 0 while the socket accepts, QoS 1/2 up to the window. */
  private readonly pump = (): void => {
    this.pumpScheduled = false;
    if (!this.publishing) return;
    const o = this.options;
    let again = false;
    for (const p of this.publishers) {
      if (!p.connected) continue;
      const left = o.count - p.sent;
      if (left <= 0) continue;
      let room: number;
      if (o.qos === 0) {
        room = p.writable ? QOS0_BATCH : 0;
      } else {
        // Refill in half-window steps: fewer, larger writes keep the generator's syscalls low.
        room = o.window - p.inflight;
        if (room < Math.max(1, o.window >> 1)) room = 0;
        else if (room > MAX_BATCH) room = MAX_BATCH;
      }
      if (o.endToEndWindow !== undefined) room = Math.min(room, this.endToEndRoom(p));
      const n = Math.min(room, left);
      if (n > 0) {
        p.publish(n, this.runId, p.index);
        if (o.qos === 0 && p.writable) again = true;
      }
    }
    if (again) this.schedulePump();
  };

  /** How many more messages publisher `p` may send within the end-to-end window. */
  private endToEndRoom(p: BenchClient): number {
    let seen = this.windowFloor[p.index]!;
    const subs = this.matching[p.index]!;
    if (subs.length > 0) {
      let least = Number.POSITIVE_INFINITY;
      for (const s of subs) {
        const next = this.tracks[s]!.next[p.index]!;
        if (next < least) least = next;
      }
      if (least > seen) seen = least;
    }
    return this.options.endToEndWindow! - (p.sent - seen);
  }

  /** Fixed rate: each publisher sends what is due by now, within its window. */
  private pace(started: number, perPublisher: number): void {
    if (!this.publishing) return;
    const o = this.options;
    const elapsedS = (performance.now() - started) / 1000;
    const due = Math.min(o.count, Math.floor(elapsedS * perPublisher) + 1);
    for (const p of this.publishers) {
      if (!p.connected) continue;
      let n = due - p.sent;
      if (n <= 0) continue;
      if (o.qos > 0) n = Math.min(n, o.window - p.inflight);
      else if (!p.writable) n = 0;
      if (n > 0) p.publish(Math.min(n, MAX_BATCH), this.runId, p.index);
    }
  }

  /**
   * Latency of every message of a paced run, of one in LATENCY_SAMPLE of an unpaced one: at millions of messages a
   * second, reading and recording every stamp would make the generator the bottleneck it must not be.
   */
  private sample(arrivedAt: number, buf: Buffer, start: number): void {
    if (this.options.rate === undefined && (++this.unsampled & (LATENCY_SAMPLE - 1)) !== 0) return;
    this.latency.record(arrivedAt - readSentAt(buf, start));
  }

  onMessage(client: BenchClient, buf: Buffer, start: number, end: number, arrivedAt: number): void {
    if (this.publishers.length === 0) {
      this.onForeignMessage(client, buf, start, end, arrivedAt);
      return;
    }
    if (end - start < STAMP_BYTES || readRunId(buf, start) !== this.runId) {
      this.stray++;
      return;
    }
    const p = readPublisher(buf, start);
    const track = this.tracks[client.index];
    if (!track || p >= track.next.length) {
      this.stray++;
      return;
    }
    const seq = readSeq(buf, start);
    const next = track.next[p]!;
    if (seq >= next) {
      track.next[p] = seq + 1;
      track.unique[p]!++;
    } else {
      this.duplicates++;
    }
    this.lastReceivedAt = arrivedAt;
    if (this.options.endToEndWindow !== undefined) this.schedulePump();
    if (this.measuring) this.sample(arrivedAt, buf, start);
  }

  /** Subscribe-only: messages from publishers in other processes, tracked per (run id, publisher). */
  private onForeignMessage(client: BenchClient, buf: Buffer, start: number, end: number, arrivedAt: number): void {
    const p = end - start >= STAMP_BYTES ? readPublisher(buf, start) : 0x100000;
    if (p >= 0x100000) {
      this.stray++;
      return;
    }
    const key = readRunId(buf, start) * 0x100000 + p;
    let tracks = this.foreign[client.index];
    if (!tracks) {
      tracks = new Map();
      this.foreign[client.index] = tracks;
    }
    let track = tracks.get(key);
    if (!track) {
      track = { next: 0, unique: 0 };
      tracks.set(key, track);
    }
    const seq = readSeq(buf, start);
    if (seq >= track.next) {
      track.next = seq + 1;
      track.unique++;
    } else {
      this.duplicates++;
    }
    this.lastReceivedAt = arrivedAt;
    if (this.measuring) this.sample(arrivedAt, buf, start);
  }

  onReady(client: BenchClient): void {
    const o = this.options;
    if (o.rate !== undefined || this.publishers[client.index] !== client) return;
    if (o.qos === 0 || o.window - client.inflight >= Math.max(1, o.window >> 1)) this.schedulePump();
  }

  onLost(client: BenchClient, _err: Error | undefined): void {
    this.errors++;
    if (!this.running) return;
    const count = (this.reconnectCounts.get(client) ?? 0) + 1;
    this.reconnectCounts.set(client, count);
    if (count > MAX_RECONNECTS_PER_CLIENT) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.running) return;
      this.reconnects++;
      const isSubscriber = this.subscribers[client.index] === client;
      client
        .connect()
        .then(() =>
          isSubscriber
            ? client.subscribe([expandTemplate(this.options.filter, client.index)], this.options.subscribeQos)
            : undefined,
        )
        .then(() => this.onReady(client))
        .catch(() => {
          this.errors++;
        });
    }, 100);
    this.timers.add(t);
  }
}

/** Runs one load and returns its summary. */
export function runLoad(options: LoadOptions): Promise<LoadSummary> {
  return new LoadRun(options).run();
}

/** The stamp clock, exported for tools that compare with the generator's timestamps. */
export { stampNow };
