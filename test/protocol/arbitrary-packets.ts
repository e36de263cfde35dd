// fast-check arbitraries for valid MQTT packets of every type at protocol levels 3, 4 and 5, written from the
// specifications (not from our codec's tables), for the differential and fuzz tests.

import fc from 'fast-check';
import type {
  Packet,
  Properties,
  ProtocolVersion,
  QoS,
  Subscription,
  UserProperty,
  WillMessage,
} from '../../src/protocol/packets.js';

/** A UTF-8 string as MQTT allows it: well-formed, no U+0000 ([MQTT-1.5.4-1], [MQTT-1.5.4-2]). */
export const mqttString = (maxLength = 12) =>
  fc
    .oneof(
      { weight: 3, arbitrary: fc.string({ unit: 'binary-ascii', maxLength }) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength }) },
    )
    .map((s) => s.replaceAll('\u0000', ''));

const level = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('a', 'b', 'sport', 'tennis', '', '$SYS') },
  { weight: 1, arbitrary: mqttString(6).map((s) => s.replace(/[/+#]/g, '')) },
);

/** A topic name: at least one character, no wildcards ([MQTT-4.7.3-1], [MQTT-4.7.1-1]). */
export const topicName = fc
  .array(level, { minLength: 1, maxLength: 4 })
  .map((l) => l.join('/'))
  .filter((t) => t.length > 0);

/** A topic filter: '+' fills a level, '#' is last ([MQTT-4.7.1-2], [MQTT-4.7.1-3]). Never $share (no-local rules). */
export const topicFilter = fc
  .tuple(fc.array(fc.oneof(level, fc.constant('+')), { maxLength: 4 }), fc.boolean())
  .map(([l, hash]) => (hash ? [...l, '#'] : l).join('/'))
  .filter((f) => f.length > 0 && !f.startsWith('$share/'));

const binary = (maxLength = 16) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));
const qos = fc.constantFrom<QoS>(0, 1, 2);
const packetId = fc.integer({ min: 1, max: 65535 });
const uint16 = fc.integer({ min: 0, max: 65535 });
const uint32 = fc.integer({ min: 0, max: 0xffffffff });
const flag = fc.constantFrom(0, 1);

/** A payload: usually small, sometimes large enough for 2- and 3-byte remaining lengths. */
const payload = fc.oneof(
  { weight: 8, arbitrary: binary(64) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 100, max: 20_000 }), fc.integer({ min: 0, max: 255 }))
      .map(([n, b]) => Buffer.alloc(n, b)),
  },
);

// Which property may appear where: the table of MQTT 5 section 2.2.2.2.
type Context =
  | 'connect'
  | 'connack'
  | 'publish'
  | 'will'
  | 'ack'
  | 'subscribe'
  | 'suback'
  | 'unsubscribe'
  | 'unsuback'
  | 'disconnect'
  | 'auth';

const PROPERTY_ARBITRARIES: { [K in keyof Properties]-?: [fc.Arbitrary<NonNullable<Properties[K]>>, Context[]] } = {
  payloadFormatIndicator: [flag, ['publish', 'will']],
  messageExpiryInterval: [uint32, ['publish', 'will']],
  contentType: [mqttString(), ['publish', 'will']],
  responseTopic: [topicName, ['publish', 'will']],
  correlationData: [binary(), ['publish', 'will']],
  subscriptionIdentifiers: [
    fc.array(fc.integer({ min: 1, max: 268_435_455 }), { minLength: 1, maxLength: 3 }),
    ['publish', 'subscribe'],
  ],
  sessionExpiryInterval: [uint32, ['connect', 'connack', 'disconnect']],
  assignedClientIdentifier: [mqttString(), ['connack']],
  serverKeepAlive: [uint16, ['connack']],
  authenticationMethod: [mqttString(), ['connect', 'connack', 'auth']],
  authenticationData: [binary(), ['connect', 'connack', 'auth']],
  requestProblemInformation: [flag, ['connect']],
  willDelayInterval: [uint32, ['will']],
  requestResponseInformation: [flag, ['connect']],
  responseInformation: [mqttString(), ['connack']],
  serverReference: [mqttString(), ['connack', 'disconnect']],
  reasonString: [mqttString(), ['connack', 'ack', 'suback', 'unsuback', 'disconnect', 'auth']],
  receiveMaximum: [fc.integer({ min: 1, max: 65535 }), ['connect', 'connack']],
  topicAliasMaximum: [uint16, ['connect', 'connack']],
  topicAlias: [fc.integer({ min: 1, max: 65535 }), ['publish']],
  maximumQoS: [flag, ['connack']],
  retainAvailable: [flag, ['connack']],
  userProperties: [
    fc.array(fc.tuple(mqttString(6), mqttString(6)) as fc.Arbitrary<UserProperty>, { minLength: 1, maxLength: 4 }),
    [
      'connect',
      'connack',
      'publish',
      'will',
      'ack',
      'subscribe',
      'suback',
      'unsubscribe',
      'unsuback',
      'disconnect',
      'auth',
    ],
  ],
  maximumPacketSize: [fc.integer({ min: 1, max: 0xffffffff }), ['connect', 'connack']],
  wildcardSubscriptionAvailable: [flag, ['connack']],
  subscriptionIdentifiersAvailable: [flag, ['connack']],
  sharedSubscriptionAvailable: [flag, ['connack']],
};

/** MQTT 5 properties allowed in `context`, each present or not; undefined when none is. */
export function properties(context: Context): fc.Arbitrary<Properties | undefined> {
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, [arb, contexts]] of Object.entries(PROPERTY_ARBITRARIES)) {
    if (!contexts.includes(context)) continue;
    // [MQTT-3.8.2.1.2] a SUBSCRIBE carries at most one Subscription Identifier.
    record[name] =
      name === 'subscriptionIdentifiers' && context === 'subscribe'
        ? fc.integer({ min: 1, max: 268_435_455 }).map((n) => [n])
        : arb;
  }
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: 2,
      arbitrary: fc.record(record, { requiredKeys: [] }).map((p: Properties) => {
        // Authentication Data without an Authentication Method is a Protocol Error (3.1.2.11.10), and an AUTH
        // with properties must carry the Authentication Method (3.15.2.2.2).
        if (p.authenticationMethod === undefined) {
          if (context === 'auth') p.authenticationMethod = 'SCRAM-SHA-1';
          else delete p.authenticationData;
        }
        return Object.keys(p).length === 0 ? undefined : p;
      }),
    },
  );
}

// Reason codes each packet may carry (MQTT 5 sections 3.2.2.2, 3.4.2.1, 3.5.2.1, 3.6.2.1, 3.7.2.1, 3.9.3,
// 3.11.3, 3.14.2.1, 3.15.2.1) and the 3.1.1 CONNACK and SUBACK return codes.
const CONNACK_V5 = [
  0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a, 0x9b,
  0x9c, 0x9d, 0x9f,
];
const PUBACK_V5 = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
const PUBREL_V5 = [0x00, 0x92];
const SUBACK_V5 = [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2];
const UNSUBACK_V5 = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91];
const DISCONNECT_V5 = [
  0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98,
  0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
];
const AUTH_V5 = [0x00, 0x18, 0x19];

/** Sets `key` on `target` only when `value` is defined, so packets have no `key: undefined` fields. */
function put<T extends object>(target: T, key: string, value: unknown): T {
  if (value !== undefined) (target as Record<string, unknown>)[key] = value;
  return target;
}

function connect(v: ProtocolVersion): fc.Arbitrary<Packet> {
  const will: fc.Arbitrary<WillMessage> = fc
    .record({
      topic: topicName,
      payload: binary(32),
      qos,
      retain: fc.boolean(),
      properties: v === 5 ? properties('will') : fc.constant(undefined),
    })
    .map(({ properties: p, ...w }) => put<WillMessage>(w, 'properties', p));
  return fc
    .record({
      // MQTT 3.1: the client identifier is 1 to 23 characters.
      clientId:
        v === 3
          ? fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'), minLength: 1, maxLength: 23 })
          : mqttString(23),
      clean: fc.boolean(),
      keepAlive: uint16,
      username: fc.option(mqttString(), { nil: undefined }),
      password: fc.option(binary(), { nil: undefined }),
      will: fc.option(will, { nil: undefined }),
      properties: v === 5 ? properties('connect') : fc.constant(undefined),
    })
    .map((c) => {
      const packet: Packet = {
        type: 'connect',
        protocolName: v === 3 ? 'MQIsdp' : 'MQTT',
        protocolVersion: v,
        // [MQTT-3.1.3-7] a zero-length client identifier needs Clean Session (3.1.1).
        clean: c.clean || (v === 4 && c.clientId === ''),
        keepAlive: c.keepAlive,
        clientId: c.clientId,
      };
      put(packet, 'will', c.will);
      put(packet, 'username', c.username);
      // [MQTT-3.1.2-22] before MQTT 5 a password needs a username.
      put(packet, 'password', v === 5 || c.username !== undefined ? c.password : undefined);
      return put(packet, 'properties', c.properties);
    });
}

function connack(v: ProtocolVersion): fc.Arbitrary<Packet> {
  return fc
    .record({
      sessionPresent: fc.boolean(),
      reasonCode: v === 5 ? fc.constantFrom(...CONNACK_V5) : fc.integer({ min: 0, max: 5 }),
      properties: v === 5 ? properties('connack') : fc.constant(undefined),
    })
    .map(({ sessionPresent, reasonCode, properties: p }) =>
      // [MQTT-3.2.2-4] / [MQTT-3.2.2-6] Session Present is 0 with a refusal; MQTT 3.1 has no such flag.
      put<Packet>(
        { type: 'connack', sessionPresent: sessionPresent && reasonCode === 0 && v > 3, reasonCode },
        'properties',
        p,
      ),
    );
}

function publish(v: ProtocolVersion): fc.Arbitrary<Packet> {
  return fc
    .record({
      topic: topicName,
      payload,
      qos,
      retain: fc.boolean(),
      dup: fc.boolean(),
      packetId,
      properties: v === 5 ? properties('publish') : fc.constant(undefined),
      aliasOnly: fc.boolean(),
    })
    .map((p) => {
      // MQTT 5: a Topic Alias may stand for the topic name, which is then empty (section 3.3.2.3.4).
      const topic = v === 5 && p.aliasOnly && p.properties?.topicAlias !== undefined ? '' : p.topic;
      const packet: Packet = {
        type: 'publish',
        topic,
        payload: p.payload,
        qos: p.qos,
        retain: p.retain,
        dup: p.qos > 0 && p.dup, // [MQTT-3.3.1-2]
      };
      put(packet, 'packetId', p.qos > 0 ? p.packetId : undefined);
      return put(packet, 'properties', p.properties);
    });
}

function ack(v: ProtocolVersion, type: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp'): fc.Arbitrary<Packet> {
  const codes = type === 'puback' || type === 'pubrec' ? PUBACK_V5 : PUBREL_V5;
  return fc
    .record({ packetId, reasonCode: fc.constantFrom(...codes), properties: properties('ack') })
    .map(({ packetId: id, reasonCode, properties: p }) => {
      const packet = { type, packetId: id } as Packet & { reasonCode?: number; properties?: Properties };
      if (v === 5) {
        packet.reasonCode = reasonCode;
        put(packet, 'properties', p);
      }
      return packet;
    });
}

function subscribe(v: ProtocolVersion): fc.Arbitrary<Packet> {
  const subscription: fc.Arbitrary<Subscription> = fc
    .record({
      topicFilter,
      qos,
      noLocal: fc.boolean(),
      retainAsPublished: fc.boolean(),
      retainHandling: fc.constantFrom<0 | 1 | 2>(0, 1, 2),
    })
    .map((s) => (v === 5 ? s : { topicFilter: s.topicFilter, qos: s.qos }));
  return fc
    .record({
      packetId,
      subscriptions: fc.array(subscription, { minLength: 1, maxLength: 4 }),
      properties: v === 5 ? properties('subscribe') : fc.constant(undefined),
    })
    .map(({ properties: p, ...s }) => put<Packet>({ type: 'subscribe', ...s }, 'properties', p));
}

function suback(v: ProtocolVersion): fc.Arbitrary<Packet> {
  const code = v === 5 ? fc.constantFrom(...SUBACK_V5) : fc.constantFrom(0, 1, 2, 0x80);
  return fc
    .record({
      packetId,
      reasonCodes: fc.array(code, { minLength: 1, maxLength: 5 }),
      properties: v === 5 ? properties('suback') : fc.constant(undefined),
    })
    .map(({ properties: p, ...s }) => put<Packet>({ type: 'suback', ...s }, 'properties', p));
}

function unsubscribe(v: ProtocolVersion): fc.Arbitrary<Packet> {
  return fc
    .record({
      packetId,
      topicFilters: fc.array(topicFilter, { minLength: 1, maxLength: 4 }),
      properties: v === 5 ? properties('unsubscribe') : fc.constant(undefined),
    })
    .map(({ properties: p, ...s }) => put<Packet>({ type: 'unsubscribe', ...s }, 'properties', p));
}

function unsuback(v: ProtocolVersion): fc.Arbitrary<Packet> {
  return fc
    .record({
      packetId,
      reasonCodes: fc.array(fc.constantFrom(...UNSUBACK_V5), { minLength: 1, maxLength: 5 }),
      properties: properties('unsuback'),
    })
    .map(({ packetId: id, reasonCodes, properties: p }) =>
      v === 5
        ? put<Packet>({ type: 'unsuback', packetId: id, reasonCodes }, 'properties', p)
        : { type: 'unsuback', packetId: id, reasonCodes: [] },
    );
}

function disconnectOrAuth(v: ProtocolVersion, type: 'disconnect' | 'auth'): fc.Arbitrary<Packet> {
  if (v < 5) return fc.constant({ type: 'disconnect' } as Packet);
  return fc
    .record({
      reasonCode: fc.constantFrom(...(type === 'auth' ? AUTH_V5 : DISCONNECT_V5)),
      properties: properties(type),
    })
    .map(({ reasonCode, properties: p }) => put<Packet>({ type, reasonCode } as Packet, 'properties', p));
}

/** A valid packet of any type that exists at protocol level `v`. */
export function packet(v: ProtocolVersion): fc.Arbitrary<Packet> {
  const kinds: fc.Arbitrary<Packet>[] = [
    connect(v),
    connack(v),
    publish(v),
    publish(v),
    ack(v, 'puback'),
    ack(v, 'pubrec'),
    ack(v, 'pubrel'),
    ack(v, 'pubcomp'),
    subscribe(v),
    suback(v),
    unsubscribe(v),
    unsuback(v),
    fc.constant({ type: 'pingreq' } as Packet),
    fc.constant({ type: 'pingresp' } as Packet),
    disconnectOrAuth(v, 'disconnect'),
  ];
  if (v === 5) kinds.push(disconnectOrAuth(v, 'auth'));
  return fc.oneof(...kinds);
}
