import type { PubrecPacket } from '../../protocol/packets.js';
import { ReasonCode } from '../../protocol/reason-codes.js';
import type { Connection } from '../connection.js';
import { ackBytes } from './publish.js';

/** PUBREC (section 3.5): answer with PUBREL [MQTT-4.3.3-4]; an error reason code ends the flow without PUBREL. */
export function handlePubrec(connection: Connection, packet: PubrecPacket): void {
  const session = connection.session;
  if (!session) return;
  const failed = (packet.reasonCode ?? 0) >= 0x80;
  if (failed) {
    session.received(packet.packetId, true);
    return;
  }
  // PUBREL waits until the move to 'awaitPubcomp' is committed: after a crash in between, the PUBLISH would be
  // re-sent to a client that already completed the flow, and delivered twice.
  if (session.received(packet.packetId, false))
    connection.sendAck(ackBytes(0x62, packet.packetId), session.persistent, false);
  // 5.0: PUBREL 0x92 for an identifier we do not know (section 3.6.2.1).
  else connection.sendPubrel(packet.packetId, connection.version === 5 ? ReasonCode.PacketIdentifierNotFound : 0);
}
