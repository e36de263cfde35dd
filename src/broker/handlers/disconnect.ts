import { MqttError } from '../../protocol/errors.js';
import type { DisconnectPacket } from '../../protocol/packets.js';
import { ReasonCode } from '../../protocol/reason-codes.js';
import type { Connection } from '../connection.js';

/**
 * DISCONNECT from the client (section 3.14): the will is discarded [MQTT-3.14.4-3] unless the reason is 0x04
 * Disconnect with Will Message; a new Session Expiry Interval may be set, but not from 0 [MQTT-3.14.2-2].
 */
export function handleDisconnect(connection: Connection, packet: DisconnectPacket): void {
  const reasonCode = packet.reasonCode ?? ReasonCode.NormalDisconnection;
  const expiry = packet.properties?.sessionExpiryInterval;
  if (expiry !== undefined && connection.version === 5) {
    if (connection.connectSessionExpiry === 0 && expiry !== 0) {
      throw new MqttError(
        ReasonCode.ProtocolError,
        '[MQTT-3.14.2-2] Session Expiry Interval set on DISCONNECT after 0',
      );
    }
    const session = connection.session;
    if (session)
      connection.broker.setSessionExpiry(session, Math.min(expiry, connection.broker.config.maxSessionExpiryInterval));
  }
  connection.disconnectReason = reasonCode;
  if (reasonCode !== ReasonCode.DisconnectWithWillMessage) connection.will = undefined;
  // [MQTT-3.14.4-1] the Server closes the connection; nothing is sent back.
  connection.end(reasonCode);
}
