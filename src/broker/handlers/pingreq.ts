import type { Connection } from '../connection.js';

const PINGRESP = Buffer.from([0xd0, 0x00]);

/** PINGREQ (section 3.12): [MQTT-3.12.4-1] the Server MUST send a PINGRESP in response. */
export function handlePingreq(connection: Connection): void {
  connection.sendBytes(PINGRESP);
}
