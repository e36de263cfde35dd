import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MqttError } from '../../src/protocol/errors.js';
import type { Packet } from '../../src/protocol/packets.js';
import {
  decodeProperties,
  isPropertyAllowed,
  PROPERTY_DEFINITIONS,
  type PropertyDefinition,
  propertiesLength,
  WILL_PROPERTIES,
  writeProperties,
} from '../../src/protocol/properties.js';
import { mqtt5Vectors, mqtt31Vectors, mqtt311Vectors } from '../vectors/index.js';

function hasReason(code: number): (err: unknown) => boolean {
  return (err) => err instanceof MqttError && err.reasonCode === code;
}

const PACKETS = ['CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBSCRIBE', 'SUBACK'];
const MORE = ['UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH'];
/** Context numbers: 0 is the Will Properties, then the packet type numbers of section 2.1.2. */
const CONTEXTS = ['Will', ...PACKETS, ...MORE];

// The table of section 2.2.2.2 of MQTT 5.0, written out independently of src/protocol/properties.ts.
const SPEC_TABLE: [id: number, type: string, packets: string[]][] = [
  [0x01, 'byte', ['PUBLISH', 'Will']],
  [0x02, 'uint32', ['PUBLISH', 'Will']],
  [0x03, 'string', ['PUBLISH', 'Will']],
  [0x08, 'string', ['PUBLISH', 'Will']],
  [0x09, 'binary', ['PUBLISH', 'Will']],
  [0x0b, 'varint', ['PUBLISH', 'SUBSCRIBE']],
  [0x11, 'uint32', ['CONNECT', 'CONNACK', 'DISCONNECT']],
  [0x12, 'string', ['CONNACK']],
  [0x13, 'uint16', ['CONNACK']],
  [0x15, 'string', ['CONNECT', 'CONNACK', 'AUTH']],
  [0x16, 'binary', ['CONNECT', 'CONNACK', 'AUTH']],
  [0x17, 'byte', ['CONNECT']],
  [0x18, 'uint32', ['Will']],
  [0x19, 'byte', ['CONNECT']],
  [0x1a, 'string', ['CONNACK']],
  [0x1c, 'string', ['CONNACK', 'DISCONNECT']],
  [0x1f, 'string', ['CONNACK', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBACK', 'UNSUBACK', 'DISCONNECT', 'AUTH']],
  [0x21, 'uint16', ['CONNECT', 'CONNACK']],
  [0x22, 'uint16', ['CONNECT', 'CONNACK']],
  [0x23, 'uint16', ['PUBLISH']],
  [0x24, 'byte', ['CONNACK']],
  [0x25, 'byte', ['CONNACK']],
  [
    0x26,
    'pair',
    ['CONNECT', 'CONNACK', 'PUBLISH', 'Will', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBSCRIBE', 'SUBACK'].concat([
      'UNSUBSCRIBE',
      'UNSUBACK',
      'DISCONNECT',
      'AUTH',
    ]),
  ],
  [0x27, 'uint32', ['CONNECT', 'CONNACK']],
  [0x28, 'byte', ['CONNACK']],
  [0x29, 'byte', ['CONNACK']],
  [0x2a, 'byte', ['CONNACK']],
];

/** One valid encoding (identifier and value) of a property. */
function sample(def: PropertyDefinition): number[] {
  switch (def.type) {
    case 'byte':
      return [def.id, 1];
    case 'uint16':
      return [def.id, 0, 1];
    case 'uint32':
      return [def.id, 0, 0, 0, 1];
    case 'varint':
      return [def.id, 1];
    case 'string':
      return [def.id, 0, 1, 0x61];
    case 'binary':
      return [def.id, 0, 1, 0x01];
    case 'pair':
      return [def.id, 0, 1, 0x61, 0, 1, 0x62];
  }
}

test('§2.2.2.2 every MQTT 5 property has the data type and the packets of the specification table', () => {
  assert.equal(PROPERTY_DEFINITIONS.length, SPEC_TABLE.length);
  for (const [id, type, packets] of SPEC_TABLE) {
    const def = PROPERTY_DEFINITIONS.find((d) => d.id === id);
    assert.ok(def, `property 0x${id.toString(16)}`);
    assert.equal(def.type, type, def.name);
    for (let context = 0; context < CONTEXTS.length; context++) {
      assert.equal(
        isPropertyAllowed(id, context),
        packets.includes(CONTEXTS[context]!),
        `${def.name} in ${CONTEXTS[context]}`,
      );
    }
  }
});

test('§2.2.2.2 a property in a packet that may not carry it is a Malformed Packet', () => {
  let checked = 0;
  for (const def of PROPERTY_DEFINITIONS) {
    for (let context = 0; context < CONTEXTS.length; context++) {
      if (isPropertyAllowed(def.id, context)) continue;
      const bytes = Buffer.from(sample(def));
      assert.throws(
        () => decodeProperties(bytes, 0, bytes.length, context),
        hasReason(0x81),
        `${def.name} in ${CONTEXTS[context]}`,
      );
      assert.throws(() => propertiesLength({ [def.name]: sampleValue(def) }, context), hasReason(0x81));
      checked++;
    }
  }
  assert.ok(checked > 300);
});

/** One valid value of a property, as a Properties field holds it. */
function sampleValue(def: PropertyDefinition): unknown {
  switch (def.type) {
    case 'varint':
      return [1];
    case 'string':
      return 'a';
    case 'binary':
      return Buffer.from([1]);
    case 'pair':
      return [['a', 'b']];
    default:
      return 1;
  }
}

function firstAllowed(def: PropertyDefinition): number {
  for (let context = 0; context < CONTEXTS.length; context++) if (isPropertyAllowed(def.id, context)) return context;
  throw new Error(`${def.name} is allowed nowhere`);
}

test('§2.2.2.2 every single-valued property included twice is a Protocol Error', () => {
  for (const def of PROPERTY_DEFINITIONS) {
    if (def.type === 'pair') continue;
    // Subscription identifiers may repeat in PUBLISH only; check them in SUBSCRIBE.
    const context = def.id === 0x0b ? 8 : firstAllowed(def);
    const once = Buffer.from(sample(def));
    const twice = Buffer.concat([once, once]);
    if (def.id !== 0x16) decodeProperties(once, 0, once.length, context); // valid once
    assert.throws(() => decodeProperties(twice, 0, twice.length, context), hasReason(0x82), def.name);
  }
});

test('§2.2.2.2 user properties keep their order and repeats; subscription identifiers repeat in PUBLISH', () => {
  // biome-ignore format: one property per line
  const bytes = Buffer.from([
    0x26, 0, 1, 0x62, 0, 1, 0x31, // user property b=1
    0x0b, 0x02, // subscription identifier 2
    0x26, 0, 1, 0x61, 0, 1, 0x32, // user property a=2
    0x0b, 0xff, 0xff, 0xff, 0x7f, // subscription identifier 268,435,455
    0x26, 0, 1, 0x62, 0, 1, 0x31, // user property b=1 again
  ]);
  const props = decodeProperties(bytes, 0, bytes.length, 3);
  assert.deepStrictEqual(props, {
    userProperties: [
      ['b', '1'],
      ['a', '2'],
      ['b', '1'],
    ],
    subscriptionIdentifiers: [2, 268_435_455],
  });
  // Written back in identifier order: both subscription identifiers first, then the user properties in order.
  const length = propertiesLength(props, 3);
  const out = Buffer.alloc(1 + length);
  writeProperties(out, 0, props, length);
  assert.deepStrictEqual(decodeProperties(out, 1, out.length, 3), props);
  assert.deepStrictEqual([...out.subarray(0, 8)], [length, 0x0b, 0x02, 0x0b, 0xff, 0xff, 0xff, 0x7f]);
});

test('binary property values are copies that outlive the input', () => {
  const bytes = Buffer.from([0x09, 0, 2, 0xaa, 0xbb]);
  const props = decodeProperties(bytes, 0, bytes.length, WILL_PROPERTIES);
  bytes.fill(0);
  assert.deepStrictEqual(props.correlationData, Buffer.from([0xaa, 0xbb]));
});

test('the vectors hold every MQTT 5 property and every packet type at each level', () => {
  const seen = new Set<string>();
  for (const { packet } of mqtt5Vectors) {
    for (const key of Object.keys((packet as { properties?: object }).properties ?? {})) seen.add(key);
    if (packet.type === 'connect')
      for (const key of Object.keys(packet.will?.properties ?? {})) seen.add(`will.${key}`);
  }
  for (const def of PROPERTY_DEFINITIONS) {
    const inWill = seen.has(`will.${def.name}`);
    assert.ok(seen.has(def.name) || inWill, `no vector carries ${def.name}`);
  }
  const types = (vectors: { packet: Packet }[]) => new Set(vectors.map((v) => v.packet.type));
  assert.equal(types(mqtt31Vectors).size, 14);
  assert.equal(types(mqtt311Vectors).size, 14);
  assert.equal(types(mqtt5Vectors).size, 15);
});
