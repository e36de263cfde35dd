import type { PubcompPacket } from '../../protocol/packets.js';
import type { Connection } from '../connection.js';

/** PUBCOMP (section 3.7): the outbound QoS 2 flow ends; the window may take the next queued message. */
export function handlePubcomp(connection: Connection, packet: PubcompPacket): void {
  connection.session?.completed(packet.packetId);
}
