// The MQTT wire format: packet types, reason codes, MqttError, the streaming decoder, the encoder,
// MQTT 5 properties and the primitive data representations.

export * from './decoder.js';
export * from './encoder.js';
export * from './errors.js';
export type { UnsupportedProtocol } from './packet-reader.js';
export * from './packets.js';
export * from './primitives.js';
export * from './properties.js';
export * from './reason-codes.js';
