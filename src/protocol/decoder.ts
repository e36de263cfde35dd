// The streaming MQTT decoder: bytes of any chunking in, packets out, synchronously and in order.
// Pure: no sockets, no timers. A PUBLISH that lies within one chunk is decoded without copying its
// payload (see PublishPacket.payload).

import { MqttError } from './errors.js';
import { checkFirstByte, PacketReader, type UnsupportedProtocol } from './packet-reader.js';
import type { Packet, ProtocolVersion } from './packets.js';
import { MAX_PACKET_SIZE } from './primitives.js';
import { ReasonCode } from './reason-codes.js';

export interface DecoderOptions {
  /** Known protocol level; when undefined the decoder accepts only CONNECT first and then adopts its level. */
  protocolVersion?: ProtocolVersion;
  /** Largest packet accepted (whole packet incl. fixed header), checked from the fixed header BEFORE the body is buffered. Default 268_435_460. */
  maximumPacketSize?: number;
}

function malformed(message: string): MqttError {
  return new MqttError(ReasonCode.MalformedPacket, message);
}

/** The Remaining Length's bytes are at most four ([MQTT-1.5.5-1]), so a fixed header is at most five. */
const MAX_HEADER = 5;
/** The largest buffer allocated for a split packet before its bytes arrive. */
const INITIAL_PARTIAL = 64 * 1024;

/**
 * `context` is handed to every onPacket call, so that one function can serve many decoders (a server's
 * connections) without a closure per decoder.
 */
export class Decoder<C = undefined> {
  /** Known protocol level; decoding a CONNECT sets it. */
  protocolVersion: ProtocolVersion | undefined;
  /** Largest whole packet accepted, checked from the fixed header before the body is buffered. */
  maximumPacketSize: number;

  private readonly onPacket: (packet: Packet, context: C) => void;
  private readonly context: C;
  private readonly reader = new PacketReader();
  /** A fixed header split across chunks; made when one first is (an idle connection holds none). */
  private header: Buffer | null = null;
  private headerFilled = 0;
  /** A packet split across chunks: its bytes so far, and its whole length from the fixed header. */
  private partial: Buffer | null = null;
  private partialTotal = 0;
  private partialFilled = 0;
  private partialHeaderLength = 0;
  private failure: MqttError | null = null;
  private inCallback = false;

  constructor(onPacket: (packet: Packet, context: C) => void, options?: DecoderOptions, context?: C) {
    this.onPacket = onPacket;
    this.context = context as C;
    this.protocolVersion = options?.protocolVersion;
    this.maximumPacketSize = options?.maximumPacketSize ?? MAX_PACKET_SIZE;
  }

  /**
   * After a 0x84 failure: the protocol name and level the CONNECT asked for, so a server can refuse
   * it in a form the client reads (CONNACK 0x01 for 3.1/3.1.1, 0x84 for MQTT 5).
   */
  get unsupportedProtocol(): UnsupportedProtocol | undefined {
    return this.reader.refusedProtocol;
  }

  /** Bytes buffered awaiting the rest of a packet. */
  get buffered(): number {
    return this.partial !== null ? this.partialFilled : this.headerFilled;
  }

  /**
   * Feeds bytes of any chunking; calls onPacket for every complete packet, synchronously, in order.
   * Throws MqttError (0x81, 0x82, 0x84, 0x95) and nothing else; after a throw the decoder is dead.
   * An error thrown by onPacket itself passes through unchanged and also ends the decoder.
   */
  push(input: Buffer | Uint8Array): void {
    // A WebSocket in a browser hands over Uint8Array; view it as a Buffer without copying.
    const chunk = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    if (this.failure !== null) {
      throw new MqttError(this.failure.reasonCode, 'the decoder failed before', { cause: this.failure });
    }
    try {
      this.consume(chunk);
    } catch (err) {
      this.partial = null;
      this.headerFilled = 0;
      if (this.inCallback) {
        // The consumer's own error passes through unchanged; the rest of the chunk is lost with it.
        this.inCallback = false;
        this.failure = new MqttError(ReasonCode.UnspecifiedError, 'the packet consumer failed', { cause: err });
        throw err;
      }
      const failure =
        err instanceof MqttError
          ? err
          : new MqttError(ReasonCode.MalformedPacket, 'undecodable packet', { cause: err });
      this.failure = failure;
      throw failure;
    }
  }

  private consume(chunk: Buffer): void {
    const length = chunk.length;
    let pos = 0;

    if (this.partial === null && this.headerFilled > 0) {
      // Complete a fixed header that began in an earlier chunk, one byte at a time.
      const header = this.header!;
      while (this.partial === null && pos < length) {
        header[this.headerFilled++] = chunk[pos++]!;
        const total = this.packetLength(header, 0, this.headerFilled);
        if (total > 0) {
          const filled = this.headerFilled;
          this.headerFilled = 0;
          this.startPartial(total, filled);
          this.appendPartial(header, 0, filled);
        }
      }
      if (this.partial === null) return;
    }

    if (this.partial !== null) {
      const n = Math.min(this.partialTotal - this.partialFilled, length - pos);
      this.appendPartial(chunk, pos, pos + n);
      pos += n;
      if (this.partialFilled < this.partialTotal) return;
      const packet = this.partial;
      this.partial = null;
      this.partialFilled = 0;
      this.emit(packet[0]!, packet, this.partialHeaderLength, packet.length);
    }

    while (pos < length) {
      const total = this.packetLength(chunk, pos, length);
      if (total === 0) {
        // The fixed header itself is split: keep its bytes (at most four, or packetLength had thrown).
        if (this.header === null) this.header = Buffer.alloc(MAX_HEADER);
        chunk.copy(this.header, 0, pos, length);
        this.headerFilled = length - pos;
        return;
      }
      const headerLength = this.lastHeaderLength;
      if (pos + total <= length) {
        this.emit(chunk[pos]!, chunk, pos + headerLength, pos + total);
        pos += total;
      } else {
        this.startPartial(total, headerLength);
        this.appendPartial(chunk, pos, length);
        return;
      }
    }
  }

  /**
   * Begins buffering a packet of `total` bytes. Small packets get their whole buffer at once; large
   * ones grow with the bytes that actually arrive, so a header that announces 256 MB costs nothing
   * until 256 MB are sent.
   */
  private startPartial(total: number, headerLength: number): void {
    this.partial = Buffer.allocUnsafe(Math.min(total, INITIAL_PARTIAL));
    this.partialTotal = total;
    this.partialFilled = 0;
    this.partialHeaderLength = headerLength;
  }

  private appendPartial(source: Buffer, start: number, end: number): void {
    let target = this.partial!;
    const needed = this.partialFilled + end - start;
    if (needed > target.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.partialTotal, Math.max(needed, target.length * 2)));
      target.copy(grown, 0, 0, this.partialFilled);
      this.partial = target = grown;
    }
    source.copy(target, this.partialFilled, start, end);
    this.partialFilled = needed;
  }

  private lastHeaderLength = 0;

  /**
   * The whole length of the packet whose fixed header starts at `buf[start]`, or 0 when the header
   * is not complete before `end`. Checks the first byte and the maximum packet size.
   */
  private packetLength(buf: Buffer, start: number, end: number): number {
    const first = buf[start]!;
    checkFirstByte(first, this.protocolVersion);
    let remaining = 0;
    let multiplier = 1;
    for (let i = 1; i <= 4; i++) {
      if (start + i >= end) return 0;
      const byte = buf[start + i]!;
      remaining += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) {
        if (byte === 0 && i > 1) throw malformed('[MQTT-1.5.5-1] remaining length is not minimally encoded');
        const total = 1 + i + remaining;
        if (total > this.maximumPacketSize) {
          throw new MqttError(
            ReasonCode.PacketTooLarge,
            `packet of ${total} bytes exceeds the maximum packet size ${this.maximumPacketSize}`,
          );
        }
        this.lastHeaderLength = 1 + i;
        return total;
      }
      multiplier *= 128;
    }
    throw malformed('[MQTT-1.5.5-1] remaining length longer than four bytes');
  }

  private emit(first: number, buf: Buffer, start: number, end: number): void {
    const packet = this.reader.read(first, buf, start, end, this.protocolVersion);
    if (packet.type === 'connect') this.protocolVersion = packet.protocolVersion;
    this.inCallback = true;
    this.onPacket(packet, this.context);
    this.inCallback = false;
  }
}

/** Decodes exactly one complete packet (convenience for tests and tools). Throws MqttError. */
export function decodePacket(bytes: Buffer, protocolVersion?: ProtocolVersion): Packet {
  let result: Packet | undefined;
  let count = 0;
  const decoder = new Decoder(
    (packet) => {
      result = packet;
      count++;
    },
    { protocolVersion },
  );
  decoder.push(bytes);
  if (count !== 1 || decoder.buffered !== 0) {
    throw malformed(count === 0 ? 'incomplete packet' : 'bytes past the end of the packet');
  }
  return result!;
}
