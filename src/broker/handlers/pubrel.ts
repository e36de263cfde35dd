import type { PubrelPacket } from '../../protocol/packets.js';
import { ReasonCode } from '../../protocol/reason-codes.js';
import type { Connection } from '../connection.js';

/** PUBREL (section 3.6): the inbound QoS 2 flow ends with PUBCOMP; [MQTT-4.3.3-11], and the identifier is new again [MQTT-4.3.3-12]. */
export function handlePubrel(connection: Connection, packet: PubrelPacket): void {
  const session = connection.session;
  if (!session) return;
  const id = packet.packetId;
  if (session.incomingQos2.delete(id)) {
    if (session.persistent) connection.broker.store.deleteIncomingQos2(session.clientId, id);
    connection.send({ type: 'pubcomp', packetId: id });
    return;
  }
  // 5.0: PUBCOMP 0x92 Packet Identifier not found; 3.1.1 answers PUBCOMP anyway.
  if (connection.version === 5) {
    connection.send({ type: 'pubcomp', packetId: id, reasonCode: ReasonCode.PacketIdentifierNotFound });
  } else {
    connection.send({ type: 'pubcomp', packetId: id });
  }
}
