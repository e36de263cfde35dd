// MQTT control packets as a discriminated union on `type`, one shape for protocol levels 3, 4 and 5.
// Fields that exist only in MQTT 5 (reason codes on acks, properties) are optional and ignored by
// the 3.1/3.1.1 encoder.

/** 3 = MQTT 3.1 ("MQIsdp"), 4 = MQTT 3.1.1, 5 = MQTT 5.0. */
export type ProtocolVersion = 3 | 4 | 5;
export type QoS = 0 | 1 | 2;
export type RetainHandling = 0 | 1 | 2;
export type UserProperty = [name: string, value: string];

/** Every MQTT 5 property (section 2.2.2.2). Which packet may carry which is checked by the codec. */
export interface Properties {
  /** 0x01 byte: 0 unspecified bytes, 1 UTF-8. */
  payloadFormatIndicator?: number;
  /** 0x02 four byte integer, seconds. */
  messageExpiryInterval?: number;
  /** 0x03 UTF-8 string. */
  contentType?: string;
  /** 0x08 UTF-8 string (a topic name). */
  responseTopic?: string;
  /** 0x09 binary data. */
  correlationData?: Buffer;
  /** 0x0B variable byte integer 1..268,435,455; a PUBLISH may carry several, a SUBSCRIBE one. */
  subscriptionIdentifiers?: number[];
  /** 0x11 four byte integer, seconds; 0xFFFFFFFF never expires. */
  sessionExpiryInterval?: number;
  /** 0x12 UTF-8 string. */
  assignedClientIdentifier?: string;
  /** 0x13 two byte integer, seconds. */
  serverKeepAlive?: number;
  /** 0x15 UTF-8 string. */
  authenticationMethod?: string;
  /** 0x16 binary data. */
  authenticationData?: Buffer;
  /** 0x17 byte 0/1. */
  requestProblemInformation?: number;
  /** 0x18 four byte integer, seconds. */
  willDelayInterval?: number;
  /** 0x19 byte 0/1. */
  requestResponseInformation?: number;
  /** 0x1A UTF-8 string. */
  responseInformation?: string;
  /** 0x1C UTF-8 string. */
  serverReference?: string;
  /** 0x1F UTF-8 string. */
  reasonString?: string;
  /** 0x21 two byte integer, 1..65535. */
  receiveMaximum?: number;
  /** 0x22 two byte integer. */
  topicAliasMaximum?: number;
  /** 0x23 two byte integer, 1..65535. */
  topicAlias?: number;
  /** 0x24 byte 0/1. */
  maximumQoS?: number;
  /** 0x25 byte 0/1. */
  retainAvailable?: number;
  /** 0x26 UTF-8 string pair; order and repeats are kept. */
  userProperties?: UserProperty[];
  /** 0x27 four byte integer, 1..4,294,967,295. */
  maximumPacketSize?: number;
  /** 0x28 byte 0/1. */
  wildcardSubscriptionAvailable?: number;
  /** 0x29 byte 0/1. */
  subscriptionIdentifiersAvailable?: number;
  /** 0x2A byte 0/1. */
  sharedSubscriptionAvailable?: number;
}

export interface WillMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  /** MQTT 5 will properties (willDelayInterval, payloadFormatIndicator, messageExpiryInterval, ...). */
  properties?: Properties;
}

export interface ConnectPacket {
  type: 'connect';
  /** 'MQTT' for levels 4 and 5, 'MQIsdp' for level 3. */
  protocolName: string;
  protocolVersion: ProtocolVersion;
  /** Clean Session (3.1.1) / Clean Start (5.0). */
  clean: boolean;
  keepAlive: number;
  clientId: string;
  username?: string;
  password?: Buffer;
  will?: WillMessage;
  properties?: Properties;
}

export interface ConnackPacket {
  type: 'connack';
  sessionPresent: boolean;
  /** MQTT 5 reason code, or the 3.1.1 return code (0..5). */
  reasonCode: number;
  properties?: Properties;
}

export interface PublishPacket {
  type: 'publish';
  topic: string;
  /** May be a view into the decoder's input chunk: copy it before keeping it past the current tick. */
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  /** Present when qos > 0. */
  packetId?: number;
  properties?: Properties;
}

/** PUBACK, PUBREC, PUBREL and PUBCOMP share one shape. */
export interface AckPacket<T extends 'puback' | 'pubrec' | 'pubrel' | 'pubcomp'> {
  type: T;
  packetId: number;
  /** MQTT 5 only; absent means 0x00 Success. */
  reasonCode?: number;
  properties?: Properties;
}
export type PubackPacket = AckPacket<'puback'>;
export type PubrecPacket = AckPacket<'pubrec'>;
export type PubrelPacket = AckPacket<'pubrel'>;
export type PubcompPacket = AckPacket<'pubcomp'>;

export interface Subscription {
  topicFilter: string;
  /** Maximum QoS requested. */
  qos: QoS;
  /** MQTT 5 subscription options; absent means false / 0. */
  noLocal?: boolean;
  retainAsPublished?: boolean;
  retainHandling?: RetainHandling;
}

export interface SubscribePacket {
  type: 'subscribe';
  packetId: number;
  subscriptions: Subscription[];
  properties?: Properties;
}

export interface SubackPacket {
  type: 'suback';
  packetId: number;
  /** Granted QoS (0, 1, 2) or a failure code (0x80 in 3.1.1, any MQTT 5 SUBACK reason code). */
  reasonCodes: number[];
  properties?: Properties;
}

export interface UnsubscribePacket {
  type: 'unsubscribe';
  packetId: number;
  topicFilters: string[];
  properties?: Properties;
}

export interface UnsubackPacket {
  type: 'unsuback';
  packetId: number;
  /** MQTT 5 only: one per topic filter. Empty for 3.1/3.1.1. */
  reasonCodes: number[];
  properties?: Properties;
}

export interface PingreqPacket {
  type: 'pingreq';
}

export interface PingrespPacket {
  type: 'pingresp';
}

export interface DisconnectPacket {
  type: 'disconnect';
  /** MQTT 5 only; absent means 0x00 Normal disconnection. */
  reasonCode?: number;
  properties?: Properties;
}

export interface AuthPacket {
  type: 'auth';
  /** Absent means 0x00 Success. */
  reasonCode?: number;
  properties?: Properties;
}

export type Packet =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | PubackPacket
  | PubrecPacket
  | PubrelPacket
  | PubcompPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | UnsubackPacket
  | PingreqPacket
  | PingrespPacket
  | DisconnectPacket
  | AuthPacket;

export type PacketType = Packet['type'];

/** The fixed-header packet type numbers (section 2.1.2). */
export const PacketTypeCode = {
  connect: 1,
  connack: 2,
  publish: 3,
  puback: 4,
  pubrec: 5,
  pubrel: 6,
  pubcomp: 7,
  subscribe: 8,
  suback: 9,
  unsubscribe: 10,
  unsuback: 11,
  pingreq: 12,
  pingresp: 13,
  disconnect: 14,
  auth: 15,
} as const satisfies Record<PacketType, number>;
