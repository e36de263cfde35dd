import type { PubrelPacket } from '../../protocol/packets.js';
import { ReasonCode } from '../../protocol/reason-codes.js';
import type { Connection } from '../connection.js';
import { ackBytes } from './publish.js';

/** PUBREL (section 3.6): the inbound QoS 2 flow ends with PUBCOMP; [MQTT-4.3.3-11], and the identifier is new again [MQTT-4.3.3-12]. */
export function handlePubrel(connection: Connection, packet: PubrelPacket): void {
  const session = connection.session;
  if (!session) return;
  const id = packet.packetId;
  if (session.deleteIncomingQos2(id)) {
    if (session.persistent) connection.broker.store.deleteIncomingQos2(session.clientId, id);
    // PUBCOMP frees the identifier for a new message, so it waits until forgetting it is committed: a crash in
    // between would otherwise take that new message for a repeat and drop it.
    connection.sendAck(ackBytes(0x70, id), session.persistent, false);
    return;
  }
  // 5.0: PUBCOMP 0x92 Packet Identifier not found; 3.1.1 answers PUBCOMP anyway.
  if (connection.version === 5) {
    connection.send({ type: 'pubcomp', packetId: id, reasonCode: ReasonCode.PacketIdentifierNotFound });
  } else {
    connection.send({ type: 'pubcomp', packetId: id });
  }
}
