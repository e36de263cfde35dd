import { MqttError } from '../../protocol/errors.js';
import type { QoS, SubscribePacket } from '../../protocol/packets.js';
import { ReasonCode, ReasonCodesByPacket } from '../../protocol/reason-codes.js';
import { isValidTopicFilter, parseSharedFilter } from '../../topics/index.js';
import type { Connection } from '../connection.js';
import { exceedsTopicLimits } from '../limits.js';
import { fromSubscription, type SessionSubscription } from '../session.js';

/**
 * SUBSCRIBE (section 3.8): one reason code per filter [MQTT-3.8.4-6]; an existing subscription with the same
 * filter is replaced [MQTT-3.8.4-3]; retained messages follow Retain Handling after the SUBACK.
 */
export function handleSubscribe(connection: Connection, packet: SubscribePacket): void {
  const session = connection.session;
  if (!session) throw new MqttError(ReasonCode.ProtocolError, 'SUBSCRIBE before CONNACK');
  const broker = connection.broker;
  const v5 = connection.version === 5;
  const failure = v5 ? 0 : 0x80;
  const config = broker.config;
  const subscriptionIdentifier = v5 ? packet.properties?.subscriptionIdentifiers?.[0] : undefined;
  const refuseAll = subscriptionIdentifier !== undefined && !config.subscriptionIdentifiersAvailable;
  const reasonCodes: number[] = [];
  const retained: SessionSubscription[] = [];
  for (const request of packet.subscriptions) {
    const topicFilter = request.topicFilter;
    // [MQTT-4.7.1-1], [MQTT-4.7.1-2] an invalid filter gets 0x8F (3.1.1: 0x80) and the others proceed.
    if (!isValidTopicFilter(topicFilter)) {
      reasonCodes.push(failure || ReasonCode.TopicFilterInvalid);
      continue;
    }
    if (refuseAll) {
      reasonCodes.push(ReasonCode.SubscriptionIdentifiersNotSupported);
      continue;
    }
    let filter = topicFilter;
    let group: string | undefined;
    try {
      const shared = parseSharedFilter(topicFilter);
      if (shared) {
        filter = shared.filter;
        group = shared.group;
      }
    } catch {
      reasonCodes.push(failure || ReasonCode.TopicFilterInvalid);
      continue;
    }
    if (exceedsTopicLimits(filter, config.maxTopicLength, config.maxTopicLevels)) {
      // Longer or deeper than the broker accepts (issue #5): refused like an invalid filter.
      broker.stats.subscriptionsRefused++;
      reasonCodes.push(failure || ReasonCode.TopicFilterInvalid);
      continue;
    }
    if (!session.subscriptions.has(topicFilter) && session.subscriptions.size >= config.maxSubscriptionsPerClient) {
      broker.stats.subscriptionsRefused++;
      reasonCodes.push(failure || ReasonCode.QuotaExceeded);
      continue;
    }
    if (group !== undefined && !config.sharedSubscriptionAvailable) {
      reasonCodes.push(failure || ReasonCode.SharedSubscriptionsNotSupported);
      continue;
    }
    if (!config.wildcardSubscriptionAvailable && (filter.includes('+') || filter.includes('#'))) {
      reasonCodes.push(failure || ReasonCode.WildcardSubscriptionsNotSupported);
      continue;
    }
    if (group !== undefined && request.noLocal) {
      // [MQTT-3.8.3-4] No Local on a shared subscription is a Protocol Error.
      throw new MqttError(ReasonCode.ProtocolError, '[MQTT-3.8.3-4] No Local set on a shared subscription');
    }
    const qos = Math.min(request.qos, broker.config.maximumQoS) as QoS;
    if (
      broker.checkSubscribe &&
      !broker.authorizer.canSubscribe({ clientId: connection.clientId, username: connection.username }, filter, qos)
    ) {
      reasonCodes.push(failure || ReasonCode.NotAuthorized);
      continue;
    }
    const onSubscribe = broker.hooks.onSubscribe;
    if (onSubscribe && connection.hookClient) {
      let code: number | undefined | undefined;
      try {
        code = onSubscribe({ client: connection.hookClient, subscription: request, subscriptionIdentifier });
      } catch (error) {
        broker.logger.error({ err: error, clientId: connection.clientId }, 'onSubscribe hook failed');
        code = ReasonCode.UnspecifiedError;
      }
      if (typeof code === 'number' && code >= 0x80) {
        // [MQTT-3.9.3-2] only the SUBACK reason codes.
        if (!ReasonCodesByPacket.suback.has(code)) {
          code = broker.hookReasonCode('onSubscribe', code, ReasonCode.UnspecifiedError);
        }
        reasonCodes.push(failure || code);
        continue;
      }
    }
    const subscription = fromSubscription(topicFilter, filter, group, { ...request, qos }, subscriptionIdentifier);
    const previous = session.addSubscription(subscription);
    if (previous && previous.group !== group) broker.subscriptions.remove(session, previous);
    broker.subscriptions.add(session, subscription);
    // [MQTT-3.3.1-9] Retain Handling 0: send retained; 1: only for a new subscription; 2: never.
    // Shared subscriptions get no retained messages (5.0 section 4.8.2).
    const handling = subscription.retainHandling;
    if (group === undefined && (handling === 0 || (handling === 1 && !previous))) retained.push(subscription);
    reasonCodes.push(qos);
    broker.emitSubscribed(connection, subscription);
  }
  // A persistent session's SUBACK waits until its subscriptions are committed (they must survive a crash once
  // acknowledged); the retained messages follow the SUBACK.
  const suback = connection.encodeForClient({ type: 'suback', packetId: packet.packetId, reasonCodes });
  if (!suback) {
    // [MQTT-3.8.4-1] a SUBACK is owed but does not fit the client's Maximum Packet Size [MQTT-3.1.2-24].
    connection.disconnect(ReasonCode.PacketTooLarge, 'SUBACK exceeds the Maximum Packet Size');
    return;
  }
  connection.sendAck(suback, session.persistent, false);
  if (retained.length > 0) {
    connection.afterAcks(() => {
      if (connection.session !== session) return;
      for (const subscription of retained) broker.sendRetained(session, subscription);
    });
  }
}
