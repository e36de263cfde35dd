import { encode } from '../../protocol/encoder.js';
import { MqttError } from '../../protocol/errors.js';
import type { PublishPacket } from '../../protocol/packets.js';
import { ReasonCode, ReasonCodesByPacket } from '../../protocol/reason-codes.js';
import type { Connection } from '../connection.js';
import { exceedsTopicLimits } from '../limits.js';
import { createMessage, forwardedProperties } from '../message.js';

/** PUBLISH from a client (section 3.3): alias resolution, limits, authorization, routing, PUBACK/PUBREC. */
export function handlePublish(connection: Connection, packet: PublishPacket): void {
  const broker = connection.broker;
  const config = broker.config;
  const session = connection.session;
  if (!session) throw new MqttError(ReasonCode.ProtocolError, 'PUBLISH before CONNACK');
  broker.stats.messagesReceived++;
  const v5 = connection.version === 5;
  const properties = packet.properties;
  const qos = packet.qos;
  const packetId = packet.packetId ?? 0;

  if (qos > config.maximumQoS) {
    // [MQTT-3.2.2-11] a QoS above the Maximum QoS of our CONNACK: DISCONNECT 0x9B.
    throw new MqttError(ReasonCode.QoSNotSupported, `QoS ${qos} above the Maximum QoS ${config.maximumQoS}`);
  }
  if (v5 && properties?.subscriptionIdentifiers !== undefined) {
    // [MQTT-3.3.4-6] a PUBLISH from a client carries no Subscription Identifier.
    throw new MqttError(ReasonCode.ProtocolError, '[MQTT-3.3.4-6] Subscription Identifier in a client PUBLISH');
  }

  let topic = packet.topic;
  if (v5 && properties?.topicAlias !== undefined) {
    const alias = properties.topicAlias;
    // [MQTT-3.3.2-9] / [MQTT-3.3.2-10] alias 0 or above our Topic Alias Maximum: DISCONNECT 0x94.
    if (alias === 0 || alias > config.topicAliasMaximum) {
      throw new MqttError(ReasonCode.TopicAliasInvalid, `topic alias ${alias} outside 1..${config.topicAliasMaximum}`);
    }
    if (topic.length === 0) {
      const mapped = connection.inboundAliases?.get(alias);
      // An alias with no mapping on this connection is a Protocol Error (section 3.3.2.3.4).
      if (mapped === undefined) throw new MqttError(ReasonCode.ProtocolError, `topic alias ${alias} is not mapped`);
      topic = mapped;
    } else {
      if (!connection.inboundAliases) connection.inboundAliases = new Map();
      connection.inboundAliases.set(alias, topic);
    }
  }

  if (packet.retain && !config.retainAvailable) {
    // [MQTT-3.2.2-14] (5.0 section 3.2.2.3.5): RETAIN=1 when Retain Available is 0 is a Protocol Error, 0x9A.
    throw new MqttError(ReasonCode.RetainNotSupported, 'retained messages are not supported');
  }

  if (qos === 2 && session.incomingQos2.has(packetId)) {
    // [MQTT-4.3.3-10] A repeated PUBLISH before PUBREL is acknowledged again but not routed again (exactly once).
    connection.sendAck(ackBytes(0x50, packetId), false, false);
    return;
  }
  if (qos > 0 && connection.inboundQos1 + session.incomingQos2.size >= config.receiveMaximum) {
    // [MQTT-3.3.4-9] more QoS 1/2 PUBLISH in flight than our Receive Maximum: DISCONNECT 0x93.
    throw new MqttError(ReasonCode.ReceiveMaximumExceeded, `more than ${config.receiveMaximum} unacknowledged PUBLISH`);
  }

  let refusal = 0;
  let reasonString: string | undefined;
  if (exceedsTopicLimits(topic, config.maxTopicLength, config.maxTopicLevels)) {
    // Longer or deeper than the broker accepts (issue #5): 5.0 says so in the PUBACK/PUBREC, or with DISCONNECT
    // 0x90 for QoS 0, which has no acknowledgement; 3.1.1 cannot say no, so the connection is closed.
    broker.stats.publishesRefused++;
    if (!v5 || qos === 0) {
      throw new MqttError(ReasonCode.TopicNameInvalid, 'topic name exceeds maxTopicLength or maxTopicLevels');
    }
    refusal = ReasonCode.TopicNameInvalid;
    reasonString = 'topic name longer or deeper than the server accepts';
  } else if (topic.charCodeAt(0) === 0x24 && (topic.startsWith('$SYS/') || topic === '$SYS')) {
    // Clients cannot publish to $SYS: the broker owns that tree.
    refusal = ReasonCode.NotAuthorized;
    reasonString = 'the $SYS topics are published by the broker only';
  } else if (
    broker.checkPublish &&
    !broker.authorizer.canPublish(
      { clientId: connection.clientId, username: connection.username },
      topic,
      qos,
      packet.retain,
    )
  ) {
    refusal = ReasonCode.NotAuthorized;
    reasonString = 'not authorized to publish to this topic';
  }

  let payload = packet.payload;
  let retain = packet.retain;
  let forwarded = forwardedProperties(properties);
  let publishQos = qos;
  const onPublish = broker.hooks.onPublish;
  if (refusal === 0 && onPublish) {
    const event = {
      client: connection.hookClient,
      message: { topic, payload, qos, retain, properties: forwarded },
    };
    let decision: ReturnType<typeof onPublish>;
    try {
      decision = onPublish(event);
    } catch (error) {
      broker.logger.error({ err: error, clientId: connection.clientId }, 'onPublish hook failed');
      decision = { reasonCode: ReasonCode.UnspecifiedError };
    }
    if (decision && decision.reasonCode !== ReasonCode.Success) {
      refusal = decision.reasonCode;
      // [MQTT-3.4.2-1] / [MQTT-3.5.2-1] only the PUBACK/PUBREC reason codes, and a refusal is 0x80 or above
      // (0x10 No matching subscribers also drops the message).
      if (
        !ReasonCodesByPacket.puback.has(refusal) ||
        (refusal < 0x80 && refusal !== ReasonCode.NoMatchingSubscribers)
      ) {
        refusal = broker.hookReasonCode('onPublish', refusal, ReasonCode.UnspecifiedError);
      }
      reasonString = decision.reasonString;
    } else {
      topic = event.message.topic;
      payload = event.message.payload;
      retain = event.message.retain;
      forwarded = event.message.properties;
      publishQos = event.message.qos;
    }
  }

  if (
    refusal === 0 &&
    v5 &&
    retain &&
    payload.length > 0 &&
    config.retainAvailable &&
    !broker.canRetain(topic, payload.length)
  ) {
    // Beyond maxRetainedMessages / maxRetainedBytes: MQTT 5 is told, and the message goes nowhere.
    broker.stats.retainedRefused++;
    refusal = ReasonCode.QuotaExceeded;
    reasonString = 'retained message quota exceeded';
  }

  if (refusal !== 0) {
    if (qos === 0) return;
    broker.countDropped();
    if (!v5) {
      // [MQTT-3.3.5-2] 3.1.1 cannot say no: acknowledge as usual and drop the message.
      connection.sendAck(ackBytes(qos === 1 ? 0x40 : 0x50, packetId), false, false);
      if (qos === 2) session.addIncomingQos2(packetId);
      return;
    }
    const ack = { packetId, reasonCode: refusal, properties: connection.problemProperties(reasonString) };
    const bytes = connection.encodeForClient(qos === 1 ? { type: 'puback', ...ack } : { type: 'pubrec', ...ack });
    if (bytes) connection.sendAck(bytes, false, false);
    return;
  }

  const expiry = properties?.messageExpiryInterval;
  const message = createMessage(
    topic,
    payload,
    publishQos,
    retain,
    forwarded,
    expiry === undefined ? undefined : broker.clock.now() + expiry * 1000,
    connection.clientId,
    payload !== packet.payload,
  );
  // A QoS 1 message kept only in sessions' in-flight rows may be acknowledged once those clients have acknowledged
  // it, before the commit (see AckObligation); a retained one waits for the retained store's commit.
  if (qos === 1 && !retain) message.ackable = true;
  const result = broker.routeMessage(message, connection);
  const obligation = message.obligation;
  message.ackable = false;
  message.obligation = undefined;

  if (qos === 0) return;
  if (qos === 2) {
    session.addIncomingQos2(packetId);
    if (session.persistent) {
      broker.store.putIncomingQos2(session.clientId, packetId);
      result.persisted = true;
    }
  }
  const code = v5 && result.deliveries === 0 ? ReasonCode.NoMatchingSubscribers : 0;
  const bytes =
    code === 0
      ? ackBytes(qos === 1 ? 0x40 : 0x50, packetId)
      : encode({ type: qos === 1 ? 'puback' : 'pubrec', packetId, reasonCode: code }, 5);
  connection.sendAck(bytes, result.persisted, qos === 1, obligation);
}

/** PUBACK (0x40) / PUBREC (0x50) with reason Success: the same four bytes in every protocol version. */
export function ackBytes(firstByte: number, packetId: number): Buffer {
  const bytes = Buffer.allocUnsafe(4);
  bytes[0] = firstByte;
  bytes[1] = 2;
  bytes[2] = packetId >> 8;
  bytes[3] = packetId & 0xff;
  return bytes;
}
