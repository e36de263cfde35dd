// Every byte vector run four ways (decode, encode, round trip, one byte at a time), all vectors of
// a level as one chunk, and every invalid vector refused with its reason code, whole and byte by byte.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Decoder, decodePacket } from '../../src/protocol/decoder.js';
import { encode } from '../../src/protocol/encoder.js';
import { MqttError } from '../../src/protocol/errors.js';
import type { Packet, ProtocolVersion } from '../../src/protocol/packets.js';
import { invalidVectors, type ValidVector, validVectors } from '../vectors/index.js';

/** A CONNECT is decoded the way a server meets it: before the level is known. */
function levelFor(vector: ValidVector): ProtocolVersion | undefined {
  return vector.packet.type === 'connect' ? undefined : vector.version;
}

function decodeBytewise(bytes: Buffer, version: ProtocolVersion | undefined): Packet[] {
  const packets: Packet[] = [];
  const decoder = new Decoder((packet) => packets.push(packet), { protocolVersion: version });
  for (let i = 0; i < bytes.length; i++) decoder.push(bytes.subarray(i, i + 1));
  assert.equal(decoder.buffered, 0);
  return packets;
}

function expectReason(fn: () => unknown, reasonCode: number): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MqttError, `expected MqttError, got ${String(err)}`);
    assert.equal(err.reasonCode, reasonCode, `expected reason 0x${reasonCode.toString(16)}, got: ${err.message}`);
    return true;
  });
}

describe('valid vectors', () => {
  for (const vector of validVectors) {
    const bytes = Buffer.from(vector.bytes);
    const label = `v${vector.version} ${vector.name}`;

    test(`${label}: decode`, () => {
      assert.deepStrictEqual(decodePacket(bytes, levelFor(vector)), vector.packet);
    });

    test(`${label}: encode`, () => {
      const encoded = encode(vector.packet, vector.version);
      if (vector.canonical === false) {
        assert.deepStrictEqual(decodePacket(encoded, levelFor(vector)), vector.packet);
        assert.ok(encoded.length < bytes.length, 'the encoder writes the shorter form');
      } else {
        assert.deepStrictEqual([...encoded], vector.bytes);
      }
    });

    test(`${label}: round trip`, () => {
      const decoded = decodePacket(bytes, levelFor(vector));
      const again = decodePacket(encode(decoded, vector.version), levelFor(vector));
      assert.deepStrictEqual(again, decoded);
    });

    test(`${label}: one byte at a time`, () => {
      assert.deepStrictEqual(decodeBytewise(bytes, levelFor(vector)), [vector.packet]);
    });
  }

  for (const version of [3, 4, 5] as const) {
    const vectors = validVectors.filter((v) => v.version === version);
    // A connection starts with CONNECT; the rest follow in table order.
    const ordered = [
      ...vectors.filter((v) => v.packet.type === 'connect'),
      ...vectors.filter((v) => v.packet.type !== 'connect'),
    ];
    const stream = Buffer.concat(ordered.map((v) => Buffer.from(v.bytes)));

    test(`v${version}: all ${ordered.length} vectors in one chunk, level adopted from the first CONNECT`, () => {
      const packets: Packet[] = [];
      const decoder = new Decoder((packet) => packets.push(packet));
      decoder.push(stream);
      assert.equal(decoder.protocolVersion, version);
      assert.equal(decoder.buffered, 0);
      assert.deepStrictEqual(
        packets,
        ordered.map((v) => v.packet),
      );
    });

    test(`v${version}: all vectors in chunks of every size from 2 to 17 bytes`, () => {
      for (let size = 2; size <= 17; size++) {
        const packets: Packet[] = [];
        const decoder = new Decoder((packet) => packets.push(packet));
        for (let i = 0; i < stream.length; i += size) decoder.push(stream.subarray(i, i + size));
        assert.equal(decoder.buffered, 0);
        assert.deepStrictEqual(
          packets,
          ordered.map((v) => v.packet),
          `chunk size ${size}`,
        );
      }
    });
  }
});

describe('invalid vectors', () => {
  for (const vector of invalidVectors) {
    const bytes = Buffer.from(vector.bytes);
    const label = `${vector.version === undefined ? 'first packet' : `v${vector.version}`} ${vector.name}`;

    test(`${label}: refused with 0x${vector.reasonCode.toString(16)}`, () => {
      expectReason(() => decodePacket(bytes, vector.version), vector.reasonCode);
    });

    test(`${label}: refused one byte at a time`, () => {
      const decoder = new Decoder(() => assert.fail('no packet may come out of invalid bytes'), {
        protocolVersion: vector.version,
      });
      expectReason(() => {
        for (let i = 0; i < bytes.length; i++) decoder.push(bytes.subarray(i, i + 1));
      }, vector.reasonCode);
      // After a throw the decoder stays dead with the same reason.
      expectReason(() => decoder.push(Buffer.from([0xc0, 0x00])), vector.reasonCode);
    });
  }
});
