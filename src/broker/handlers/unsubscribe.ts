import { MqttError } from '../../protocol/errors.js';
import type { UnsubscribePacket } from '../../protocol/packets.js';
import { ReasonCode } from '../../protocol/reason-codes.js';
import type { Connection } from '../connection.js';

/** UNSUBSCRIBE (section 3.10): [MQTT-3.10.4-5] always an UNSUBACK, 5.0 with one reason code per filter. */
export function handleUnsubscribe(connection: Connection, packet: UnsubscribePacket): void {
  const session = connection.session;
  if (!session) throw new MqttError(ReasonCode.ProtocolError, 'UNSUBSCRIBE before CONNACK');
  const broker = connection.broker;
  const reasonCodes: number[] = [];
  for (const topicFilter of packet.topicFilters) {
    // [MQTT-3.10.4-1] the filter is compared character by character with existing subscriptions.
    const previous = session.removeSubscription(topicFilter);
    if (previous) {
      broker.subscriptions.remove(session, previous);
      reasonCodes.push(ReasonCode.Success);
    } else {
      reasonCodes.push(ReasonCode.NoSubscriptionExisted);
    }
  }
  const unsuback = connection.encodeForClient({
    type: 'unsuback',
    packetId: packet.packetId,
    reasonCodes: connection.version === 5 ? reasonCodes : [],
  });
  // Like SUBACK: acknowledged once the removal is committed for a persistent session.
  if (!unsuback) {
    // [MQTT-3.10.4-4] an UNSUBACK is owed but does not fit the client's Maximum Packet Size [MQTT-3.1.2-24].
    connection.disconnect(ReasonCode.PacketTooLarge, 'UNSUBACK exceeds the Maximum Packet Size');
    return;
  }
  connection.sendAck(unsuback, session.persistent, false);
}
