import type { PubackPacket } from '../../protocol/packets.js';
import type { Connection } from '../connection.js';

/** PUBACK (section 3.4): the QoS 1 flow of an outbound message ends; its identifier is free again (section 2.2.1). */
export function handlePuback(connection: Connection, packet: PubackPacket): void {
  // An unknown identifier is ignored: it may be a late acknowledgement of a message already re-sent.
  connection.session?.acknowledge(packet.packetId);
}
