import type { Duplex } from 'node:stream';
import { Decoder } from '../protocol/decoder.js';
import { encode, encodePublishShared } from '../protocol/encoder.js';
import { MqttError } from '../protocol/errors.js';
import type { Packet, ProtocolVersion, QoS } from '../protocol/packets.js';
import { type LinkOptions, openLink } from './link.js';
import { STAMP_BYTES, stampNow, writeStamp } from './payload.js';

export interface BenchClientOptions extends LinkOptions {
  clientId: string;
  protocolVersion: ProtocolVersion;
  keepAlive: number;
  clean: boolean;
  username?: string;
  password?: string;
}

/** What a BenchClient tells its owner. Methods, not closures: one object per run serves every client. */
export interface BenchClientEvents {
  /**
   * An application message arrived: its payload is `buf[start, end)`, valid only during the call.
   * `arrivedAt` is the stamp of the chunk it came in.
   */
  onMessage(client: BenchClient, buf: Buffer, start: number, end: number, arrivedAt: number): void;
  /** In-flight room opened up (an ack completed) or the socket drained. */
  onReady(client: BenchClient): void;
  /** The connection ended without close() being called. */
  onLost(client: BenchClient, err: Error | undefined): void;
}

enum Flight {
  Free = 0,
  AwaitPuback = 1,
  AwaitPubrec = 2,
  AwaitPubcomp = 3,
}

/** Acks are four bytes in every protocol level when the reason code is Success (MQTT 5 short form). */
function ackHeader(type: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp', version: ProtocolVersion): number {
  const bytes = encode({ type, packetId: 1 }, version);
  if (bytes.length !== 4) throw new Error(`unexpected ${type} length ${bytes.length}`);
  return bytes[0]!;
}

/**
 * A lean MQTT client for load generation: raw stream plus Starling's codec, messages written in
 * batches (one `write` per batch), in-flight state in typed arrays, no promise per message.
 */
export class BenchClient {
  readonly options: BenchClientOptions;
  /** Index of this client within its role (publisher or subscriber number). */
  readonly index: number;
  stream: Duplex | undefined;
  connected = false;
  writable = true;
  /** Messages published (written to the socket). */
  sent = 0;
  /** QoS 1/2 messages whose flow completed (PUBACK or PUBCOMP received); equals `sent` for QoS 0. */
  acked = 0;
  /** QoS 1/2 messages written and not yet acknowledged. */
  inflight = 0;
  received = 0;
  /** QoS 1/2 messages the broker refused (MQTT 5 PUBACK/PUBREC reason code 0x80 or above). */
  rejected = 0;
  /** QoS 1/2 messages whose connection closed before their flow completed. */
  abandoned = 0;

  private readonly events: BenchClientEvents;
  private decoder: Decoder;
  private readonly flights = new Uint8Array(65536);
  private nextPacketId = 1;
  private closing = false;
  private acks: Buffer = Buffer.allocUnsafe(4096);
  private ackLength = 0;
  private arrivedAt = 0;
  /** Bytes of a packet split across chunks, waiting for the rest. */
  private rest: Buffer | undefined;
  private pending: ((packet: Packet) => boolean) | undefined;
  private pendingFail: ((err: Error) => void) | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private readonly pubackHeader: number;
  private readonly pubrecHeader: number;
  private readonly pubrelHeader: number;
  private readonly pubcompHeader: number;
  private template: { bytes: Buffer; packetIdOffset: number; payloadOffset: number; qos: QoS } | undefined;

  constructor(options: BenchClientOptions, index: number, events: BenchClientEvents) {
    this.options = options;
    this.index = index;
    this.events = events;
    this.decoder = new Decoder(this.onPacket, { protocolVersion: options.protocolVersion });
    this.pubackHeader = ackHeader('puback', options.protocolVersion);
    this.pubrecHeader = ackHeader('pubrec', options.protocolVersion);
    this.pubrelHeader = ackHeader('pubrel', options.protocolVersion);
    this.pubcompHeader = ackHeader('pubcomp', options.protocolVersion);
  }

  /** Opens the link, sends CONNECT and resolves with the milliseconds until CONNACK (link setup included). */
  async connect(): Promise<number> {
    const started = performance.now();
    const o = this.options;
    this.closing = false;
    this.writable = true;
    this.decoder = new Decoder(this.onPacket, { protocolVersion: o.protocolVersion });
    this.rest = undefined;
    const stream = await openLink(o);
    if (this.closing) {
      // close() was called while the link was being set up.
      stream.destroy();
      throw new Error(`${o.clientId}: closed while connecting`);
    }
    this.stream = stream;
    stream.on('data', this.onData);
    stream.on('drain', this.onDrain);
    stream.on('error', this.onError);
    stream.on('close', this.onClose);
    const connack = this.expect('connack', o.connectTimeoutMs ?? 10_000);
    stream.write(
      encode(
        {
          type: 'connect',
          protocolName: o.protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
          protocolVersion: o.protocolVersion,
          clean: o.clean,
          keepAlive: o.keepAlive,
          clientId: o.clientId,
          username: o.username,
          password: o.password === undefined ? undefined : Buffer.from(o.password),
        },
        o.protocolVersion,
      ),
    );
    const packet = await connack;
    if (packet.type !== 'connack' || packet.reasonCode !== 0) {
      stream.destroy();
      throw new Error(
        `${o.clientId}: connection refused, reason 0x${(packet as { reasonCode: number }).reasonCode.toString(16)}`,
      );
    }
    this.connected = true;
    if (o.keepAlive > 0) {
      this.pingTimer = setInterval(
        () => this.stream?.write(encode({ type: 'pingreq' }, o.protocolVersion)),
        o.keepAlive * 750,
      );
      this.pingTimer.unref();
    }
    return performance.now() - started;
  }

  /** Subscribes to the filters with one SUBSCRIBE and checks every grant. */
  async subscribe(filters: string[], qos: QoS): Promise<void> {
    const suback = this.expect('suback', 10_000);
    this.stream!.write(
      encode(
        { type: 'subscribe', packetId: 1, subscriptions: filters.map((topicFilter) => ({ topicFilter, qos })) },
        this.options.protocolVersion,
      ),
    );
    const packet = await suback;
    if (packet.type === 'suback' && packet.reasonCodes.some((code) => code >= 0x80)) {
      throw new Error(`${this.options.clientId}: subscription refused (${packet.reasonCodes.join(',')})`);
    }
  }

  /** Prepares the PUBLISH this client will send: encoded once, copied and stamped per message. */
  preparePublish(topic: string, qos: QoS, payloadSize: number): void {
    if (payloadSize < STAMP_BYTES) throw new Error(`payload size must be at least ${STAMP_BYTES} bytes`);
    const payload = Buffer.alloc(payloadSize, 0x2e);
    const shared = encodePublishShared(
      { type: 'publish', topic, payload, qos, retain: false, dup: false, packetId: qos > 0 ? 1 : undefined },
      this.options.protocolVersion,
    );
    this.template = {
      bytes: shared.bytes,
      packetIdOffset: shared.packetIdOffset,
      payloadOffset: shared.bytes.length - payloadSize,
      qos,
    };
  }

  /**
   * Writes up to `count` messages in one write; returns how many. QoS 1/2 messages take free packet
   * identifiers; the caller keeps `inflight` within its window.
   */
  publish(count: number, runId: number, publisher: number): number {
    const t = this.template!;
    const stream = this.stream;
    if (!stream || !this.connected || count <= 0) return 0;
    const len = t.bytes.length;
    const batch = Buffer.allocUnsafe(len * count);
    const sentAt = stampNow();
    let seq = this.sent;
    for (let i = 0, off = 0; i < count; i++, off += len) {
      t.bytes.copy(batch, off);
      if (t.qos > 0) {
        const id = this.allocatePacketId();
        batch.writeUInt16BE(id, off + t.packetIdOffset);
        this.flights[id] = t.qos === 1 ? Flight.AwaitPuback : Flight.AwaitPubrec;
      }
      writeStamp(batch, off + t.payloadOffset, sentAt, runId, publisher, seq++);
    }
    this.sent = seq;
    if (t.qos > 0) this.inflight += count;
    else this.acked = seq;
    if (!stream.write(batch)) this.writable = false;
    return count;
  }

  /** Sends DISCONNECT and closes; resolves when the stream has closed (or after a short grace period). */
  async close(): Promise<void> {
    this.closing = true;
    this.connected = false;
    if (this.pingTimer) clearInterval(this.pingTimer);
    const stream = this.stream;
    if (!stream || stream.destroyed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        stream.destroy();
        resolve();
      }, 2000);
      stream.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      stream.end(encode({ type: 'disconnect' }, this.options.protocolVersion));
    });
  }

  /** Drops the connection at once (no DISCONNECT). */
  destroy(): void {
    this.closing = true;
    this.connected = false;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.stream?.destroy();
  }

  private allocatePacketId(): number {
    // Bounded: at most 65535 probes, and the caller's window keeps most identifiers free.
    for (let probes = 0; probes < 65535; probes++) {
      const id = this.nextPacketId;
      this.nextPacketId = id === 65535 ? 1 : id + 1;
      if (this.flights[id] === Flight.Free) return id;
    }
    throw new Error('no free packet identifier');
  }

  private expect(type: Packet['type'], timeoutMs: number): Promise<Packet> {
    return new Promise<Packet>((resolve, reject) => {
      const timer = setTimeout(
        () => fail(new Error(`${this.options.clientId}: no ${type} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const fail = (err: Error) => {
        clearTimeout(timer);
        this.pending = undefined;
        this.pendingFail = undefined;
        reject(err);
      };
      this.pendingFail = fail;
      this.pending = (packet) => {
        if (packet.type !== type) return false;
        clearTimeout(timer);
        this.pending = undefined;
        this.pendingFail = undefined;
        resolve(packet);
        return true;
      };
    });
  }

  private queueAck(header: number, packetId: number): void {
    if (this.ackLength + 4 > this.acks.length) {
      const bigger = Buffer.allocUnsafe(this.acks.length * 2);
      this.acks.copy(bigger, 0, 0, this.ackLength);
      this.acks = bigger;
    }
    const a = this.acks;
    const at = this.ackLength;
    a[at] = header;
    a[at + 1] = 2;
    a[at + 2] = packetId >> 8;
    a[at + 3] = packetId & 0xff;
    this.ackLength = at + 4;
  }

  private readonly onData = (chunk: Buffer): void => {
    this.arrivedAt = stampNow();
    const before = this.inflight;
    try {
      if (this.connected) this.scan(chunk);
      else this.decoder.push(chunk);
    } catch (err) {
      this.stream?.destroy(err as Error);
      return;
    }
    if (this.ackLength > 0 && this.stream) {
      // Copy: the ack buffer is reused while the socket may still hold a reference.
      this.stream.write(Buffer.from(this.acks.subarray(0, this.ackLength)));
      this.ackLength = 0;
    }
    if (this.inflight < before) this.events.onReady(this);
  };

  /**
   * The receive path once connected. Profiles of 100-subscriber fan-out showed the general decoder
   * (packet objects, topic strings, payload views) as half of the generator's time, so PUBLISH
   * packets are framed here and handed over as offsets; every other packet goes through the codec.
   * Framing still checks what the generator relies on: remaining length, topic length, properties
   * length within the packet.
   */
  private scan(chunk: Buffer): void {
    let buf = chunk;
    if (this.rest) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = undefined;
    }
    const len = buf.length;
    const v5 = this.options.protocolVersion === 5;
    let at = 0;
    while (at < len) {
      // Fixed header: packet type and flags, then the remaining length (at most 4 bytes).
      let i = at + 1;
      let remaining = 0;
      let multiplier = 1;
      let done = false;
      while (i < len && i < at + 5) {
        const b = buf[i++]!;
        remaining += (b & 0x7f) * multiplier;
        multiplier *= 128;
        if (b < 0x80) {
          done = true;
          break;
        }
      }
      if (!done) {
        if (i >= at + 5) throw new MqttError(0x81, 'remaining length longer than 4 bytes');
        break;
      }
      const end = i + remaining;
      if (end > len) break;
      const first = buf[at]!;
      if (first >> 4 === 3) {
        const qos = (first >> 1) & 3;
        let p = i + 2 + buf.readUInt16BE(i);
        if (qos > 0) {
          const packetId = buf.readUInt16BE(p);
          p += 2;
          this.queueAck(qos === 1 ? this.pubackHeader : this.pubrecHeader, packetId);
        }
        if (v5) {
          let propsLength = 0;
          let m = 1;
          let b: number;
          do {
            b = buf[p++]!;
            propsLength += (b & 0x7f) * m;
            m *= 128;
          } while (b >= 0x80 && m <= 0x200000);
          p += propsLength;
        }
        if (p > end) throw new MqttError(0x81, 'PUBLISH header longer than the packet');
        this.received++;
        this.events.onMessage(this, buf, p, end, this.arrivedAt);
      } else {
        this.decoder.push(buf.subarray(at, end));
      }
      at = end;
    }
    if (at < len) this.rest = Buffer.from(buf.subarray(at));
  }

  private readonly onPacket = (packet: Packet): void => {
    switch (packet.type) {
      case 'publish': {
        this.received++;
        if (packet.qos === 1) this.queueAck(this.pubackHeader, packet.packetId!);
        else if (packet.qos === 2) this.queueAck(this.pubrecHeader, packet.packetId!);
        this.events.onMessage(this, packet.payload, 0, packet.payload.length, this.arrivedAt);
        return;
      }
      case 'puback':
        if (this.flights[packet.packetId] === Flight.AwaitPuback) {
          this.complete(packet.packetId, packet.reasonCode !== undefined && packet.reasonCode >= 0x80);
        }
        return;
      case 'pubrec':
        if (this.flights[packet.packetId] === Flight.AwaitPubrec) {
          if (packet.reasonCode !== undefined && packet.reasonCode >= 0x80) {
            this.complete(packet.packetId, true);
            return;
          }
          this.flights[packet.packetId] = Flight.AwaitPubcomp;
          this.queueAck(this.pubrelHeader, packet.packetId);
        }
        return;
      case 'pubcomp':
        if (this.flights[packet.packetId] === Flight.AwaitPubcomp) this.complete(packet.packetId, false);
        return;
      case 'pubrel':
        this.queueAck(this.pubcompHeader, packet.packetId);
        return;
      case 'connack':
      case 'suback':
      case 'pingresp':
        this.pending?.(packet);
        return;
      case 'disconnect':
        this.stream?.destroy(new Error(`server sent DISCONNECT 0x${(packet.reasonCode ?? 0).toString(16)}`));
        return;
      default:
        this.pending?.(packet);
    }
  };

  private complete(packetId: number, rejected: boolean): void {
    this.flights[packetId] = Flight.Free;
    this.inflight--;
    if (rejected) this.rejected++;
    else this.acked++;
  }

  private readonly onDrain = (): void => {
    this.writable = true;
    this.events.onReady(this);
  };

  private lastError: Error | undefined;

  private readonly onError = (err: Error): void => {
    this.lastError = err;
  };

  private readonly onClose = (): void => {
    const wasClosing = this.closing;
    this.connected = false;
    if (this.pingTimer) clearInterval(this.pingTimer);
    // Messages still in flight will never complete on this connection.
    this.flights.fill(Flight.Free);
    this.abandoned += this.inflight;
    this.inflight = 0;
    this.pendingFail?.(this.lastError ?? new Error(`${this.options.clientId}: connection closed`));
    if (!wasClosing) this.events.onLost(this, this.lastError);
  };
}
