import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MqttError } from '../../src/protocol/errors.js';
import {
  decodeUtf8,
  decodeVariableByteInteger,
  encodeVariableByteInteger,
  isValidMqttUtf8,
  isWellFormedUtf8ByDecoder,
  utf8LengthOf,
  variableByteIntegerLength,
} from '../../src/protocol/primitives.js';

function isMalformed(err: unknown): boolean {
  return err instanceof MqttError && err.reasonCode === 0x81;
}

// The boundaries of section 1.5.5, with their encodings from the specification's table.
const boundaries: [number, number[]][] = [
  [0, [0x00]],
  [127, [0x7f]],
  [128, [0x80, 0x01]],
  [16_383, [0xff, 0x7f]],
  [16_384, [0x80, 0x80, 0x01]],
  [2_097_151, [0xff, 0xff, 0x7f]],
  [2_097_152, [0x80, 0x80, 0x80, 0x01]],
  [268_435_455, [0xff, 0xff, 0xff, 0x7f]],
];

for (const [value, bytes] of boundaries) {
  test(`[MQTT-1.5.5-1] variable byte integer ${value} is ${bytes.length} byte(s), minimally encoded`, () => {
    assert.deepStrictEqual([...encodeVariableByteInteger(value)], bytes);
    assert.equal(variableByteIntegerLength(value), bytes.length);
    assert.deepStrictEqual(decodeVariableByteInteger(Buffer.from(bytes)), { value, length: bytes.length });
    // Followed by other bytes, only its own are consumed.
    assert.deepStrictEqual(decodeVariableByteInteger(Buffer.from([0xaa, ...bytes, 0x55]), 1), {
      value,
      length: bytes.length,
    });
  });
}

test('[MQTT-1.5.5-1] a variable byte integer cut short asks for more bytes', () => {
  assert.equal(decodeVariableByteInteger(Buffer.from([0x80])).length, 0);
  assert.equal(decodeVariableByteInteger(Buffer.from([0xff, 0xff, 0xff])).length, 0);
  assert.equal(decodeVariableByteInteger(Buffer.from([0x80, 0x01]), 0, 1).length, 0);
});

test('[MQTT-1.5.5-1] a fifth byte is malformed, as soon as the fourth continues', () => {
  assert.throws(() => decodeVariableByteInteger(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f])), isMalformed);
  assert.throws(() => decodeVariableByteInteger(Buffer.from([0x80, 0x80, 0x80, 0x80])), isMalformed);
});

test('[MQTT-1.5.5-1] overlong (non-minimal) encodings are malformed', () => {
  assert.throws(() => decodeVariableByteInteger(Buffer.from([0x80, 0x00])), isMalformed);
  assert.throws(() => decodeVariableByteInteger(Buffer.from([0xff, 0x80, 0x00])), isMalformed);
  assert.throws(() => decodeVariableByteInteger(Buffer.from([0x80, 0x80, 0x80, 0x00])), isMalformed);
});

test('§1.5.5 values outside 0..268,435,455 cannot be encoded', () => {
  assert.throws(() => encodeVariableByteInteger(268_435_456), isMalformed);
  assert.throws(() => encodeVariableByteInteger(-1), isMalformed);
  assert.throws(() => encodeVariableByteInteger(1.5), isMalformed);
});

test('[MQTT-1.5.4-1] well-formed UTF-8 is accepted, including 4-byte sequences', () => {
  for (const s of ['', 'a/b', 'é', '€', '𝄞', 'topic/日本語/🚀', '\ufeffbom']) {
    const buf = Buffer.from(s, 'utf8');
    assert.ok(isValidMqttUtf8(buf), s);
    assert.equal(decodeUtf8(buf, 0, buf.length), s);
  }
});

test('[MQTT-1.5.4-1] ill-formed UTF-8, overlong forms and encoded surrogates are malformed', () => {
  const bad = [
    [0xc3, 0x28], // invalid continuation
    [0xa9], // lone continuation byte
    [0xe2, 0x82], // truncated sequence
    [0xc0, 0xaf], // overlong '/'
    [0xe0, 0x80, 0xaf], // overlong '/'
    [0xed, 0xa0, 0x80], // U+D800, a high surrogate
    [0xed, 0xbf, 0xbf], // U+DFFF, a low surrogate
    [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
    [0xff], // never valid
  ];
  for (const bytes of bad) {
    const buf = Buffer.from([0x61, ...bytes, 0x62]);
    assert.equal(isValidMqttUtf8(buf), false, Buffer.from(bytes).toString('hex'));
    assert.throws(() => decodeUtf8(buf, 0, buf.length), isMalformed);
  }
});

test('[MQTT-1.5.4-1] the TextDecoder fallback (for bundles without buffer.isUtf8) judges UTF-8 the same way', () => {
  const good = ['', 'a/b', 'é', '€', '𝄞', '\ufeffbom'].map((t) => Buffer.from(t, 'utf8'));
  const bad = [
    [0xc3, 0x28],
    [0xa9],
    [0xe2, 0x82],
    [0xc0, 0xaf],
    [0xe0, 0x80, 0xaf],
    [0xed, 0xa0, 0x80],
    [0xed, 0xbf, 0xbf],
  ]
    .concat([[0xf4, 0x90, 0x80, 0x80], [0xff]])
    .map((b) => Buffer.from(b));
  for (const bytes of good) assert.equal(isWellFormedUtf8ByDecoder(bytes), true, bytes.toString('hex'));
  for (const bytes of bad) assert.equal(isWellFormedUtf8ByDecoder(bytes), false, bytes.toString('hex'));
});

test('[MQTT-1.5.4-2] U+0000 is malformed, in ASCII and in non-ASCII strings', () => {
  assert.equal(isValidMqttUtf8(Buffer.from([0x61, 0x00])), false);
  assert.throws(() => decodeUtf8(Buffer.from([0x61, 0x00, 0x62]), 0, 3), isMalformed);
  assert.throws(() => decodeUtf8(Buffer.from([0xc3, 0xa9, 0x00]), 0, 3), isMalformed);
});

test('[MQTT-1.5.4-3] a leading U+FEFF is kept when decoding', () => {
  const buf = Buffer.from([0xef, 0xbb, 0xbf, 0x61]);
  assert.equal(decodeUtf8(buf, 0, buf.length), '\ufeffa');
});

test('decodeUtf8 reads only its range', () => {
  const buf = Buffer.from('xx/héllo/yy', 'utf8');
  assert.equal(decodeUtf8(buf, 2, buf.length - 2), '/héllo/');
  assert.equal(decodeUtf8(buf, 0, 2), 'xx');
});

test('§1.5.4 the encoder refuses strings it could not write faithfully', () => {
  assert.equal(utf8LengthOf('é€', 'x'), 5);
  assert.equal(utf8LengthOf('a'.repeat(65_535), 'x'), 65_535);
  assert.throws(() => utf8LengthOf('a'.repeat(65_536), 'x'), isMalformed);
  assert.throws(() => utf8LengthOf('é'.repeat(32_768), 'x'), isMalformed); // 65,536 bytes
  assert.throws(() => utf8LengthOf('a\u0000b', 'x'), isMalformed);
  assert.throws(() => utf8LengthOf('a\ud800b', 'x'), isMalformed);
  assert.throws(() => utf8LengthOf('\udc00', 'x'), isMalformed);
  assert.equal(utf8LengthOf('\ud83d\ude80', 'x'), 4); // a proper pair is fine
});
