import { randomBytes } from 'node:crypto';
import { MqttError } from '../../protocol/errors.js';
import type { ConnectPacket, Properties } from '../../protocol/packets.js';
import { ReasonCode } from '../../protocol/reason-codes.js';
import type { StoredWill } from '../../store/types.js';
import { isValidTopicName } from '../../topics/index.js';
import type { Connection } from '../connection.js';
import type { AuthResult } from '../hooks.js';
import { exceedsTopicLimits } from '../limits.js';

const NEVER = 0xffffffff;

/** CONNECT (section 3.1): validation, authentication (plain or enhanced), session takeover or resume, CONNACK. */
export function handleConnect(connection: Connection, packet: ConnectPacket): void {
  if (connection.state !== 'awaitConnect') {
    // [MQTT-3.1.0-2] a second CONNECT is a Protocol Error.
    throw new MqttError(ReasonCode.ProtocolError, '[MQTT-3.1.0-2] second CONNECT on a connection');
  }
  // The connect timer keeps running until CONNACK: an authentication exchange must finish in time too.
  connection.version = packet.protocolVersion;
  connection.state = 'authenticating';
  const broker = connection.broker;
  const config = broker.config;
  const properties = packet.properties;
  const v5 = packet.protocolVersion === 5;

  // Client Identifier (section 3.1.3.1).
  let clientId = packet.clientId;
  let assigned = false;
  if (clientId.length === 0) {
    if (packet.protocolVersion === 3 || (packet.protocolVersion === 4 && !packet.clean)) {
      // [MQTT-3.1.3-8] 3.1.1: empty id with CleanSession 0 is refused with 0x02; 3.1 requires 1..23 characters.
      connection.refuse(ReasonCode.ClientIdentifierNotValid);
      return;
    }
    // [MQTT-3.1.3-6] / 5.0 [MQTT-3.1.3-6]: the Server assigns a unique identifier.
    clientId = `starling-${randomBytes(9).toString('base64url')}`;
    assigned = true;
  } else if (packet.protocolVersion === 3 && clientId.length > 23) {
    connection.refuse(ReasonCode.ClientIdentifierNotValid);
    return;
  }
  if (clientId.length > config.maxClientIdLength) {
    broker.stats.connectsRefused++;
    connection.refuse(ReasonCode.ClientIdentifierNotValid);
    return;
  }
  connection.clientId = clientId;
  connection.username = packet.username;

  if (v5) {
    if (properties?.receiveMaximum === 0) throw new MqttError(ReasonCode.ProtocolError, 'Receive Maximum 0');
    if (properties?.maximumPacketSize === 0) throw new MqttError(ReasonCode.ProtocolError, 'Maximum Packet Size 0');
    connection.clientReceiveMaximum = Math.min(properties?.receiveMaximum ?? 65535, config.maxInflight);
    connection.clientMaximumPacketSize = properties?.maximumPacketSize ?? connection.clientMaximumPacketSize;
    connection.clientTopicAliasMaximum = Math.min(properties?.topicAliasMaximum ?? 0, 65535);
    connection.problemInformation = properties?.requestProblemInformation !== 0;
  } else connection.clientReceiveMaximum = config.maxInflight;

  // Will (section 3.1.2.5 and 3.1.3.2).
  if (packet.will) {
    const will = packet.will;
    if (!isValidTopicName(will.topic)) {
      connection.refuse(ReasonCode.TopicNameInvalid);
      return;
    }
    if (exceedsTopicLimits(will.topic, config.maxTopicLength, config.maxTopicLevels)) {
      broker.stats.publishesRefused++;
      connection.refuse(ReasonCode.TopicNameInvalid);
      return;
    }
    if (will.qos > config.maximumQoS) {
      // [MQTT-3.2.2-12] a Will QoS above what the server supports: CONNACK 0x9B.
      connection.refuse(ReasonCode.QoSNotSupported);
      return;
    }
    if (will.retain && !config.retainAvailable) {
      // [MQTT-3.2.2-13] retain unavailable: a will with retain is refused with 0x9A.
      connection.refuse(ReasonCode.RetainNotSupported);
      return;
    }
    const { willDelayInterval, messageExpiryInterval, ...rest } = will.properties ?? {};
    const stored: StoredWill = {
      topic: will.topic,
      payload: will.payload,
      qos: will.qos,
      retain: will.retain,
      delayInterval: willDelayInterval ?? 0,
    };
    if (Object.keys(rest).length > 0) stored.properties = rest;
    if (messageExpiryInterval !== undefined) {
      // Kept as seconds until the will is published; the deadline is computed then.
      stored.properties = { ...stored.properties, messageExpiryInterval };
    }
    connection.will = stored;
  }

  // Keep Alive (section 3.1.2.10) and the Server Keep Alive cap (3.2.2.3.14).
  let keepAlive = packet.keepAlive;
  let serverKeepAlive: number | undefined;
  if (config.maxKeepAlive < 65535 && (keepAlive === 0 || keepAlive > config.maxKeepAlive)) {
    if (!v5) {
      // 3.1.1 cannot tell the client another value; refuse like Mosquitto does.
      connection.refuse(ReasonCode.ClientIdentifierNotValid);
      return;
    }
    keepAlive = config.maxKeepAlive;
    serverKeepAlive = keepAlive;
  }

  // Session Expiry Interval (3.1.2.11.2): 3.1.1 CleanSession 0 means a session that never expires.
  let sessionExpiry = v5 ? (properties?.sessionExpiryInterval ?? 0) : packet.clean ? 0 : NEVER;
  let sessionExpiryCapped = false;
  if (sessionExpiry > config.maxSessionExpiryInterval) {
    sessionExpiry = config.maxSessionExpiryInterval;
    sessionExpiryCapped = true;
  }
  connection.connectSessionExpiry = sessionExpiry;

  connection.describeClient();

  const accept = (extra: Properties | undefined, username: string | undefined): void => {
    if (connection.state !== 'authenticating') return;
    try {
      finishConnect(extra, username);
    } catch (error) {
      // Runs from a promise callback: nothing may escape (an unhandled rejection would stop the process).
      connection.fail(error);
    }
  };

  const finishConnect = (extra: Properties | undefined, username: string | undefined): void => {
    if (username !== undefined) {
      connection.setUsername(username);
    }
    const connack: Properties | undefined = v5 ? { ...extra } : undefined;
    if (connack) {
      if (assigned) connack.assignedClientIdentifier = clientId;
      if (serverKeepAlive !== undefined) connack.serverKeepAlive = serverKeepAlive;
      if (sessionExpiryCapped) connack.sessionExpiryInterval = sessionExpiry;
      if (properties?.requestResponseInformation === 1) {
        // [MQTT-3.1.2-28] Response Information only when requested.
        connack.responseInformation = `${config.responseInformationPrefix}${clientId}`;
      }
    }
    broker.acceptConnection(connection, {
      clean: packet.clean,
      sessionExpiry,
      keepAlive,
      connackProperties: connack,
    });
    if (connection.ready) connection.startKeepAlive(keepAlive);
    connection.replayPending();
  };

  // Enhanced authentication (section 4.12).
  const method = properties?.authenticationMethod;
  if (method !== undefined) {
    connection.authMethod = method;
    const onAuth = broker.hooks.onAuth;
    if (!onAuth) {
      connection.refuse(ReasonCode.BadAuthenticationMethod);
      return;
    }
    connection.continueAuth = (result: AuthResult | undefined) => {
      if (connection.state !== 'authenticating') return;
      if (!result) {
        connection.refuse(ReasonCode.BadAuthenticationMethod);
      } else if (result.action === 'continue') {
        connection.send({
          type: 'auth',
          reasonCode: ReasonCode.ContinueAuthentication,
          properties: { authenticationMethod: method, authenticationData: result.data },
        });
      } else if (result.action === 'fail') {
        connection.refuse(result.reasonCode ?? ReasonCode.NotAuthorized);
      } else {
        const extra: Properties = { authenticationMethod: method };
        if (result.data) extra.authenticationData = result.data;
        accept(extra, result.username);
      }
    };
    connection.runAuth({
      client: connection.hookClient!,
      method,
      data: properties?.authenticationData,
      step: 'connect',
      username: packet.username,
      password: packet.password,
    });
    return;
  }

  // Anonymous clients only on loopback-only listeners unless allowed (Mosquitto 2's local-only default).
  if (packet.username === undefined && !config.allowAnonymous && !connection.meta.loopbackOnly) {
    connection.refuse(ReasonCode.NotAuthorized);
    return;
  }

  let result: ReturnType<typeof broker.authenticator.authenticate>;
  try {
    result = broker.authenticator.authenticate({
      clientId,
      username: packet.username,
      password: packet.password,
      protocolVersion: packet.protocolVersion,
      remoteAddress: connection.meta.remoteAddress,
      listener: connection.meta.listener,
      loopbackOnly: connection.meta.loopbackOnly,
      certificateCommonName: connection.meta.certificateCommonName,
    });
  } catch (error) {
    connection.fail(error);
    return;
  }
  const decide = (r: Awaited<typeof result>): void => {
    if (connection.state !== 'authenticating') return;
    if (r.ok) accept(undefined, r.username);
    else connection.refuse(r.reasonCode);
  };
  if (result instanceof Promise) {
    result.then(decide, (error: unknown) => {
      broker.logger.error({ err: error, clientId }, 'authenticator failed');
      connection.refuse(ReasonCode.ServerUnavailable);
    });
  } else {
    decide(result);
  }
}
