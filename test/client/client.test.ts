// The client's state machines against a scripted server on a loopback socket: keep-alive, topic
// aliases, QoS flows, refusals, enhanced authentication, reconnect and session loss.

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { type ClientOptions, connect, type Message, MqttClient, MqttError } from '../../src/client/index.js';
import type { Packet, ProtocolVersion, PublishPacket } from '../../src/protocol/packets.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { type FakeServer, type PacketScript, politeServer, startFakeServer } from './fake-server.js';
import { tapTransport, waitFor } from './helpers.js';

let servers: FakeServer[] = [];
let clients: MqttClient[] = [];

afterEach(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  clients = [];
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function serve(version: ProtocolVersion, script: PacketScript): Promise<FakeServer> {
  const server = await startFakeServer(version, script);
  servers.push(server);
  return server;
}

async function client(server: FakeServer, options: ClientOptions = {}): Promise<MqttClient> {
  const c = await connect(`mqtt://127.0.0.1:${server.port}`, {
    reconnect: { initialDelay: 20, maxDelay: 100, jitter: 0 },
    ...options,
  });
  clients.push(c);
  return c;
}

const isCode = (reasonCode: number) => (error: unknown) =>
  error instanceof MqttError && error.reasonCode === reasonCode;

const ofType = <T extends Packet['type']>(packets: Packet[], type: T) =>
  packets.filter((p): p is Extract<Packet, { type: T }> => p.type === type);

test('§3.1.2.10 Keep Alive: PINGREQ when idle; a server that stops answering is left and reconnected', async () => {
  const server = await serve(
    5,
    politeServer((connection, packet) => packet.type === 'pingreq' && connection === server.connections[0]),
  );
  const c = await client(server, { keepalive: 1 });
  const offline = new Promise<Error | undefined>((resolve) => c.once('offline', resolve));
  const reconnected = new Promise((resolve) => c.once('connect', resolve));
  const started = Date.now();
  await offline;
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 1500 && elapsed < 4000, `dead connection detected after ${elapsed} ms`);
  assert.equal(ofType(server.connections[0]?.received ?? [], 'pingreq').length, 1);
  assert.deepEqual(await reconnected, { sessionPresent: false, properties: {}, reconnected: true });
  assert.equal(c.connected, true);
});

test('[MQTT-3.3.2-10] [MQTT-3.3.2-11] inbound topic aliases resolve to the topic; an alias above our maximum is refused with 0x94', async () => {
  const server = await serve(
    5,
    politeServer((connection, packet) => {
      if (packet.type !== 'subscribe') return false;
      connection.send({ type: 'suback', packetId: packet.packetId, reasonCodes: [0] });
      const publish = (topic: string, topicAlias: number, payload: string): void =>
        connection.send({
          type: 'publish',
          topic,
          payload: Buffer.from(payload),
          qos: 0,
          retain: false,
          dup: false,
          properties: { topicAlias },
        });
      publish('sensors/1', 1, 'first');
      publish('', 1, 'second');
      publish('sensors/2', 3, 'bad');
      return true;
    }),
  );
  const c = await client(server, { topicAliasMaximum: 2 });
  const messages: Message[] = [];
  c.on('message', (m) => messages.push(m));
  const errors: Error[] = [];
  c.on('error', (e) => errors.push(e));
  await c.subscribe('sensors/#');
  await waitFor(() => server.connections[0]?.closed === true, 'the connection to close');
  assert.deepEqual(
    messages.map((m) => [m.topic, m.payload.toString(), m.properties?.topicAlias]),
    [
      ['sensors/1', 'first', undefined],
      ['sensors/1', 'second', undefined],
    ],
  );
  const disconnect = ofType(server.connections[0]?.received ?? [], 'disconnect');
  assert.equal(disconnect[0]?.reasonCode, ReasonCode.TopicAliasInvalid);
  assert.ok(errors.some(isCode(ReasonCode.TopicAliasInvalid)));
});

test('[MQTT-4.3.3-9] a QoS 2 PUBLISH repeated before PUBREL is delivered once; PUBREL gets PUBCOMP; unknown ids get 0x92', async () => {
  const server = await serve(
    5,
    politeServer((connection, packet) => {
      if (packet.type !== 'subscribe') return false;
      connection.send({ type: 'suback', packetId: packet.packetId, reasonCodes: [2] });
      const publish: PublishPacket = {
        type: 'publish',
        topic: 'q2',
        payload: Buffer.from('once'),
        qos: 2,
        retain: false,
        dup: false,
        packetId: 9,
      };
      connection.send(publish);
      connection.send({ ...publish, dup: true });
      connection.send({ type: 'pubrel', packetId: 9 });
      connection.send({ type: 'pubrel', packetId: 10 });
      connection.send({ type: 'pubrec', packetId: 77 });
      return true;
    }),
  );
  const c = await client(server);
  const messages: Message[] = [];
  c.on('message', (m) => messages.push(m));
  await c.subscribe('q2', { qos: 2 });
  const received = (): Packet[] => server.connections[0]?.received ?? [];
  await waitFor(() => ofType(received(), 'pubrel').length === 1, 'the PUBREL for an unknown PUBREC');
  assert.equal(messages.length, 1);
  assert.equal(messages[0]?.payload.toString(), 'once');
  assert.deepEqual(
    ofType(received(), 'pubrec').map((p) => p.packetId),
    [9, 9],
  );
  // §3.7.2.1: an unknown id is answered with 0x92 Packet Identifier not found
  assert.deepEqual(
    ofType(received(), 'pubcomp').map((p) => [p.packetId, p.reasonCode ?? 0]),
    [
      [9, 0],
      [10, ReasonCode.PacketIdentifierNotFound],
    ],
  );
  // §3.6.2.1: a PUBREC for an id we never used is released with 0x92
  assert.deepEqual(
    ofType(received(), 'pubrel').map((p) => [p.packetId, p.reasonCode]),
    [[77, ReasonCode.PacketIdentifierNotFound]],
  );
});

test('[MQTT-3.3.4-9] a server exceeding our Receive Maximum is disconnected with 0x93', async () => {
  const server = await serve(
    5,
    politeServer((connection, packet) => {
      if (packet.type !== 'subscribe') return false;
      connection.send({ type: 'suback', packetId: packet.packetId, reasonCodes: [2] });
      for (let id = 1; id <= 3; id++) {
        connection.send({
          type: 'publish',
          topic: 'rm',
          payload: Buffer.from(`${id}`),
          qos: 2,
          retain: false,
          dup: false,
          packetId: id,
        });
      }
      return true;
    }),
  );
  const c = await client(server, { receiveMaximum: 2, reconnect: false });
  const messages: Message[] = [];
  c.on('message', (m) => messages.push(m));
  await c.subscribe('rm', { qos: 2 });
  await waitFor(() => server.connections[0]?.closed === true, 'the connection to close');
  assert.deepEqual(
    messages.map((m) => m.payload.toString()),
    ['1', '2'],
  );
  const disconnect = ofType(server.connections[0]?.received ?? [], 'disconnect')[0];
  assert.equal(disconnect?.reasonCode, ReasonCode.ReceiveMaximumExceeded);
});

test('[MQTT-4.13.1-1] malformed bytes or a second CONNACK from the server close the connection with a reason, and the client reconnects', async () => {
  const server = await serve(
    5,
    politeServer((connection, packet) => {
      if (packet.type !== 'connect') return false;
      connection.send({ type: 'connack', sessionPresent: false, reasonCode: 0 });
      const index = server.connections.indexOf(connection);
      // First a packet type 0 (reserved), then a second CONNACK; the third connection is left alone.
      if (index === 0) connection.sendRaw(Buffer.from([0x00, 0x00]));
      if (index === 1) connection.send({ type: 'connack', sessionPresent: false, reasonCode: 0 });
      return true;
    }),
  );
  const c = new MqttClient(`mqtt://127.0.0.1:${server.port}`, { reconnect: { initialDelay: 10, jitter: 0 } });
  clients.push(c);
  const errors: MqttError[] = [];
  c.on('error', (error) => errors.push(error as MqttError));
  await c.connect();
  await waitFor(() => server.connections.length === 3 && c.connected, 'the third connection');
  assert.deepEqual(
    errors.map((e) => e.reasonCode),
    [ReasonCode.MalformedPacket, ReasonCode.ProtocolError],
  );
  assert.deepEqual(
    server.connections.slice(0, 2).map((conn) => ofType(conn.received, 'disconnect')[0]?.reasonCode),
    [ReasonCode.MalformedPacket, ReasonCode.ProtocolError],
  );
});

test('a PUBACK or PUBREC with a failure reason code rejects the publish with that code', async () => {
  const server = await serve(
    5,
    politeServer((connection, packet) => {
      if (packet.type !== 'publish') return false;
      const properties = { reasonString: 'not on my watch' };
      if (packet.qos === 1) {
        connection.send({ type: 'puback', packetId: packet.packetId as number, reasonCode: 0x87, properties });
      } else {
        connection.send({ type: 'pubrec', packetId: packet.packetId as number, reasonCode: 0x97 });
      }
      return true;
    }),
  );
  const c = await client(server);
  await assert.rejects(c.publish('secret', 'x', { qos: 1 }), (error: unknown) => {
    assert.ok(isCode(ReasonCode.NotAuthorized)(error));
    assert.match((error as Error).message, /not on my watch/);
    return true;
  });
  await assert.rejects(c.publish('busy', 'x', { qos: 2 }), isCode(ReasonCode.QuotaExceeded));
  // The flows are over: no PUBREL, and the ids are free again.
  assert.equal(c.inflightCount, 0);
  assert.equal(ofType(server.connections[0]?.received ?? [], 'pubrel').length, 0);
});

test('§3.2.2.3 (3.1.1): a CONNACK return code becomes the MQTT 5 reason code with the same meaning', async () => {
  const server = await serve(4, (connection, packet) => {
    if (packet.type === 'connect') connection.send({ type: 'connack', sessionPresent: false, reasonCode: 4 });
  });
  await assert.rejects(
    connect(`mqtt://127.0.0.1:${server.port}`, { protocolVersion: 4, username: 'u', password: 'wrong' }),
    (error: unknown) => {
      assert.ok(isCode(ReasonCode.BadUserNameOrPassword)(error));
      assert.match((error as Error).message, /connection refused: Bad User Name or Password/);
      return true;
    },
  );
  const connect4 = server.connections[0]?.received[0];
  assert.equal(connect4?.type, 'connect');
  assert.equal(connect4?.type === 'connect' && connect4.username, 'u');
  assert.equal(connect4?.type === 'connect' && connect4.password?.toString(), 'wrong');
});

test('no CONNACK within connectTimeout rejects connect() (first connection not retried)', async () => {
  const server = await serve(5, () => undefined);
  const started = Date.now();
  await assert.rejects(
    connect(`mqtt://127.0.0.1:${server.port}`, { connectTimeout: 200, retryInitialConnect: false }),
    /no CONNACK within 200 ms/,
  );
  assert.ok(Date.now() - started < 2000);
});

test('[MQTT-4.12.0-2] [MQTT-4.12.0-5] [MQTT-4.12.1-1] enhanced authentication: onAuth answers each challenge, also on re-authentication', async () => {
  const challenges: string[] = [];
  const server = await serve(
    5,
    politeServer((connection, packet) => {
      const method = 'TOKEN-CHALLENGE';
      if (packet.type === 'connect') {
        assert.equal(packet.properties?.authenticationMethod, method);
        assert.equal(packet.properties?.authenticationData?.toString(), 'hello');
        connection.send({
          type: 'auth',
          reasonCode: ReasonCode.ContinueAuthentication,
          properties: { authenticationMethod: method, authenticationData: Buffer.from('nonce-1') },
        });
        return true;
      }
      if (packet.type === 'auth') {
        const answer = packet.properties?.authenticationData?.toString() ?? '';
        if (packet.reasonCode === ReasonCode.ReAuthenticate) {
          connection.send({
            type: 'auth',
            reasonCode: ReasonCode.ContinueAuthentication,
            properties: { authenticationMethod: method, authenticationData: Buffer.from('nonce-2') },
          });
        } else if (answer === 'signed nonce-1') {
          connection.send({
            type: 'connack',
            sessionPresent: false,
            reasonCode: 0,
            properties: { authenticationMethod: method },
          });
        } else if (answer === 'signed nonce-2') {
          connection.send({ type: 'auth', reasonCode: 0, properties: { authenticationMethod: method } });
        } else {
          connection.send({ type: 'connack', sessionPresent: false, reasonCode: ReasonCode.NotAuthorized });
        }
        return true;
      }
      return false;
    }),
  );
  const c = await client(server, {
    authenticationMethod: 'TOKEN-CHALLENGE',
    authenticationData: Buffer.from('hello'),
    onAuth: async ({ data, reasonCode }) => {
      assert.equal(reasonCode, ReasonCode.ContinueAuthentication);
      challenges.push(data?.toString() ?? '');
      return Buffer.from(`signed ${data}`);
    },
  });
  assert.equal(c.connected, true);
  await c.reauthenticate();
  assert.deepEqual(challenges, ['nonce-1', 'nonce-2']);
});

test('a server DISCONNECT is reported with its reason code and the client reconnects', async () => {
  const server = await serve(
    5,
    politeServer((connection, packet) => {
      if (packet.type === 'connect' && connection === server.connections[0]) {
        connection.send({ type: 'connack', sessionPresent: false, reasonCode: 0 });
        setTimeout(() => {
          connection.send({ type: 'disconnect', reasonCode: ReasonCode.ServerShuttingDown });
          connection.destroy();
        }, 20);
        return true;
      }
      return false;
    }),
  );
  const c = await client(server);
  const disconnects: number[] = [];
  c.on('disconnect', (packet) => disconnects.push(packet.reasonCode ?? 0));
  await new Promise((resolve) => c.once('connect', resolve));
  assert.deepEqual(disconnects, [ReasonCode.ServerShuttingDown]);
  assert.equal(server.connections.length, 2);
});

test('[MQTT-3.2.2-5] without a session after reconnect: QoS 1 restarts as a new publish, QoS 2 after PUBREC completes, subscriptions are renewed', async () => {
  const server = await serve(
    5,
    politeServer((connection, packet) => {
      if (connection !== server.connections[0]) return false;
      if (packet.type === 'publish' && packet.qos === 1) return true; // never acknowledged
      if (packet.type === 'publish' && packet.qos === 2) {
        connection.send({ type: 'pubrec', packetId: packet.packetId as number });
        return true;
      }
      if (packet.type === 'pubrel') {
        connection.destroy(); // the connection dies before PUBCOMP
        return true;
      }
      return false;
    }),
  );
  const c = await client(server, { clientId: 'lost-session' });
  await c.subscribe('keep/me', { qos: 1, subscriptionIdentifier: 5 });
  const q1 = c.publish('a', 'one', { qos: 1 });
  await waitFor(() => ofType(server.connections[0]?.received ?? [], 'publish').length === 1, 'the QoS 1 PUBLISH');
  const q2 = c.publish('b', 'two', { qos: 2 });
  await Promise.all([q1, q2]);
  const second = server.connections[1]?.received ?? [];
  const connectPacket = second[0];
  assert.equal(connectPacket?.type === 'connect' && connectPacket.clean, false, 'Clean Start 0 on reconnect');
  const publishes = ofType(second, 'publish');
  assert.deepEqual(
    publishes.map((p) => [p.topic, p.dup]),
    [['a', false]],
  );
  assert.equal(ofType(second, 'pubrel').length, 0);
  const resubscribe = ofType(second, 'subscribe');
  assert.deepEqual(
    resubscribe.map((p) => [p.subscriptions.map((s) => [s.topicFilter, s.qos]), p.properties?.subscriptionIdentifiers]),
    [[[['keep/me', 1]], [5]]],
  );
});

test('[MQTT-3.14.2-2] end() sends DISCONNECT with its reason code and session expiry', async () => {
  const server = await serve(5, politeServer());
  const refused = await client(server);
  await assert.rejects(refused.end({ sessionExpiryInterval: 10 }), isCode(ReasonCode.ProtocolError));
  const c = await client(server, { sessionExpiryInterval: 100 });
  await c.end({ reasonCode: ReasonCode.DisconnectWithWillMessage, sessionExpiryInterval: 0 });
  assert.equal(c.state, 'closed');
  const disconnect = ofType(server.connections[1]?.received ?? [], 'disconnect')[0];
  assert.equal(disconnect?.reasonCode, ReasonCode.DisconnectWithWillMessage);
  assert.equal(disconnect?.properties?.sessionExpiryInterval, 0);
  await assert.rejects(c.publish('t', 'x'), MqttError);
});

test('packets of one tick go out in a single write', async () => {
  const server = await serve(5, politeServer());
  const tap = tapTransport(5);
  const c = await client(server, { transport: tap.factory });
  const before = tap.writes;
  const sent: Promise<void>[] = [];
  for (let i = 0; i < 50; i++) sent.push(c.publish('batch', `${i}`, { qos: i % 2 === 0 ? 0 : 1 }));
  await Promise.all(sent);
  await waitFor(() => ofType(server.connections[0]?.received ?? [], 'publish').length === 50, 'fifty publishes');
  assert.equal(tap.writes - before, 1);
});

test('QoS 0 publishes wait while the socket is backed up, and finish when the server reads again', async () => {
  const server = await serve(
    5,
    politeServer((connection, packet) => {
      if (packet.type === 'connect') connection.pause();
      return false;
    }),
  );
  const c = await client(server);
  const payload = Buffer.alloc(1024 * 1024, 1);
  let done = 0;
  const loop = (async () => {
    for (let i = 0; i < 48; i++) {
      await c.publish('bulk', payload);
      done++;
    }
  })();
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.ok(done < 48, `only what the socket buffers took was resolved (${done})`);
  server.connections[0]?.resume();
  await loop;
  assert.equal(done, 48);
});

test('[MQTT-3.3.2-2] [MQTT-3.8.3-4] invalid topic names and subscriptions are refused before sending', async () => {
  const server = await serve(5, politeServer());
  const c = await client(server);
  for (const topic of ['a/+', 'a/#', '', 'a\u0000b']) {
    await assert.rejects(c.publish(topic, 'x'), (error: unknown) => error instanceof MqttError, topic);
  }
  await assert.rejects(c.subscribe(''), isCode(ReasonCode.TopicFilterInvalid));
  await assert.rejects(c.subscribe('$share/g/a', { noLocal: true }), isCode(ReasonCode.ProtocolError));
  assert.equal(ofType(server.connections[0]?.received ?? [], 'publish').length, 0);
});

test('reconnect gives up after maxAttempts and everything pending rejects', async () => {
  const server = await serve(5, politeServer());
  const c = await client(server, { reconnect: { initialDelay: 10, maxAttempts: 2, jitter: 0 } });
  const attempts: number[] = [];
  c.on('reconnect', (attempt) => attempts.push(attempt));
  const ended = new Promise<void>((resolve) => c.once('end', resolve));
  await server.close();
  servers = [];
  await ended;
  assert.deepEqual(attempts, [1, 2]);
  assert.equal(c.state, 'closed');
  await assert.rejects(c.publish('t', 'x', { qos: 1 }), MqttError);
});

test('messages() streams end when the client ends', async () => {
  const server = await serve(5, politeServer());
  const c = new MqttClient(`mqtt://127.0.0.1:${server.port}`, { reconnect: false });
  clients.push(c);
  await c.connect();
  const stream = c.messages();
  const reading = (async () => {
    let count = 0;
    for await (const _ of stream) count++;
    return count;
  })();
  await c.end();
  assert.equal(await reading, 0);
});
