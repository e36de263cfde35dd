import type { PubrecPacket } from '../../protocol/packets.js';
import { ReasonCode } from '../../protocol/reason-codes.js';
import type { Connection } from '../connection.js';

/** PUBREC (section 3.5): answer with PUBREL [MQTT-4.3.3-4]; an error reason code ends the flow without PUBREL. */
export function handlePubrec(connection: Connection, packet: PubrecPacket): void {
  const session = connection.session;
  if (!session) return;
  const failed = (packet.reasonCode ?? 0) >= 0x80;
  if (failed) {
    session.received(packet.packetId, true);
    return;
  }
  if (session.received(packet.packetId, false)) connection.sendPubrel(packet.packetId);
  // 5.0: PUBREL 0x92 for an identifier we do not know (section 3.6.2.1).
  else connection.sendPubrel(packet.packetId, connection.version === 5 ? ReasonCode.PacketIdentifierNotFound : 0);
}
