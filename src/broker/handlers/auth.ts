import { MqttError } from '../../protocol/errors.js';
import type { AuthPacket } from '../../protocol/packets.js';
import { ReasonCode } from '../../protocol/reason-codes.js';
import type { Connection } from '../connection.js';

/**
 * AUTH (section 3.15, 4.12): the client's next step of enhanced authentication during CONNECT (reason 0x18), or
 * a re-authentication after CONNACK (reason 0x19). The method is the one of CONNECT [MQTT-4.12.0-5], [MQTT-4.12.1-1].
 */
export function handleAuth(connection: Connection, packet: AuthPacket): void {
  const method = packet.properties?.authenticationMethod;
  const reasonCode = packet.reasonCode ?? ReasonCode.Success;
  if (connection.authMethod === undefined || method !== connection.authMethod) {
    // [MQTT-4.12.0-6] AUTH without the CONNECT's Authentication Method is a Protocol Error.
    throw new MqttError(ReasonCode.ProtocolError, 'AUTH without the authentication method of CONNECT');
  }
  const client = connection.hookClient;
  if (!client) throw new MqttError(ReasonCode.ProtocolError, 'AUTH before CONNECT');
  if (connection.state === 'authenticating') {
    if (reasonCode !== ReasonCode.ContinueAuthentication) {
      throw new MqttError(ReasonCode.ProtocolError, 'AUTH during CONNECT must continue authentication (0x18)');
    }
    connection.runAuth({ client, method, data: packet.properties?.authenticationData, step: 'continue' });
    return;
  }
  if (reasonCode === ReasonCode.ReAuthenticate) connection.reauthenticating = true;
  else if (reasonCode !== ReasonCode.ContinueAuthentication) {
    throw new MqttError(ReasonCode.ProtocolError, `unexpected AUTH reason code ${reasonCode}`);
  } else if (!connection.reauthenticating) {
    // Section 4.12.1: 0x18 answers a challenge; with no re-authentication in progress there was none.
    throw new MqttError(ReasonCode.ProtocolError, 'AUTH 0x18 with no re-authentication in progress');
  }
  // Re-authentication (section 4.12.1): the connection keeps working meanwhile.
  connection.continueAuth = (result) => {
    if (connection.state !== 'connected') return;
    if (result?.action !== 'continue') connection.reauthenticating = false;
    if (!result || result.action === 'fail') {
      connection.disconnect(result?.reasonCode ?? ReasonCode.NotAuthorized);
    } else if (result.action === 'continue') {
      connection.send({
        type: 'auth',
        reasonCode: ReasonCode.ContinueAuthentication,
        properties: { authenticationMethod: method, authenticationData: result.data },
      });
    } else {
      connection.send({
        type: 'auth',
        reasonCode: ReasonCode.Success,
        properties: { authenticationMethod: method, authenticationData: result.data },
      });
    }
  };
  connection.runAuth({
    client,
    method,
    data: packet.properties?.authenticationData,
    step: reasonCode === ReasonCode.ReAuthenticate ? 'reauthenticate' : 'continue',
  });
}
