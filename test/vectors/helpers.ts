// Byte-table helpers for the protocol test vectors. They are deliberately tiny and independent of
// src/protocol, so that a vector states the bytes on the wire, not what our encoder thinks.

import type { Packet, ProtocolVersion } from '../../src/protocol/packets.js';

/** A packet and its exact bytes at one protocol level. */
export interface ValidVector {
  /** What the vector shows, citing the normative statement where there is one. */
  name: string;
  version: ProtocolVersion;
  bytes: number[];
  packet: Packet;
  /**
   * False when the bytes are valid but not the form the encoder writes (e.g. an MQTT 5 PUBACK with an
   * explicit Success and empty properties, which the encoder shortens): then `encode(packet)` is only
   * required to decode back to the same packet.
   */
  canonical?: boolean;
}

/** Bytes that must be refused with a reason code. */
export interface InvalidVector {
  name: string;
  /** undefined: the decoder does not know the level yet and expects a CONNECT. */
  version: ProtocolVersion | undefined;
  bytes: number[];
  reasonCode: number;
}

/** A UTF-8 string field: two-byte length, then the bytes. */
export function str(value: string): number[] {
  const bytes = [...Buffer.from(value, 'utf8')];
  return [bytes.length >> 8, bytes.length & 0xff, ...bytes];
}

/** A binary data field: two-byte length, then the bytes. */
export function bin(bytes: number[]): number[] {
  return [bytes.length >> 8, bytes.length & 0xff, ...bytes];
}

/** The raw bytes of an ASCII/UTF-8 text, without a length. */
export function text(value: string): number[] {
  return [...Buffer.from(value, 'utf8')];
}

export function u16(value: number): number[] {
  return [value >> 8, value & 0xff];
}

export function u32(value: number): number[] {
  return [(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}
