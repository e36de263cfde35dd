import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { connected, delay, RawClient, startBroker, useBrokers } from './helpers.js';

describe('CONNECT / CONNACK', () => {
  const broker = useBrokers();

  test('[MQTT-3.2.0-1] a valid CONNECT is answered with CONNACK 0 on 3.1, 3.1.1 and 5.0', async () => {
    const b = await broker();
    for (const version of [3, 4, 5] as const) {
      const client = new RawClient(b, version);
      const connack = await client.connect({ clientId: `v${version}` });
      assert.equal(connack.reasonCode, 0);
      assert.equal(connack.sessionPresent, false);
      client.destroy();
    }
  });

  test('[MQTT-3.1.0-1] the first packet must be CONNECT: anything else closes the connection', async () => {
    const b = await broker();
    const client = new RawClient(b, 5);
    client.send({ type: 'pingreq' });
    await client.waitClosed();
    assert.equal(client.received.length, 0);
  });

  test('[MQTT-3.1.0-2] a second CONNECT is a protocol error: DISCONNECT 0x82 on 5.0', async () => {
    const b = await broker();
    const client = await connected(b, 'twice');
    client.send(client.connectPacket({ clientId: 'twice' }));
    const disconnect = await client.expect('disconnect');
    assert.equal(disconnect.reasonCode, ReasonCode.ProtocolError);
    await client.waitClosed();
  });

  test('[MQTT-3.1.0-2] a second CONNECT on 3.1.1 closes the connection without a packet', async () => {
    const b = await broker();
    const client = await connected(b, 'twice4', 4);
    client.send(client.connectPacket({ clientId: 'x' }));
    await client.waitClosed();
    assert.equal(client.received.length, 0);
  });

  test('[MQTT-3.1.2-2] an unsupported protocol level gets CONNACK 0x01 and a close', async () => {
    const b = await broker();
    const client = new RawClient(b, 4);
    // CONNECT, protocol name MQTT, level 6, clean session, keep alive 0, client id "a".
    client.sendRaw([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x06, 0x02, 0x00, 0x00, 0x00, 0x01, 0x61]);
    const connack = await client.expect('connack');
    assert.equal(connack.reasonCode, 0x01);
    await client.waitClosed();
  });

  test('[MQTT-3.1.2-1] 5.0: level 5 with a protocol name other than MQTT gets the MQTT 5 CONNACK 0x84', async () => {
    const b = await broker();
    const client = new RawClient(b, 5);
    // CONNECT, protocol name MQIsdp, level 5, clean start, keep alive 0, no properties, client id "a".
    client.sendRaw([
      0x10, 0x10, 0x00, 0x06, 0x4d, 0x51, 0x49, 0x73, 0x64, 0x70, 0x05, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x61,
    ]);
    const connack = await client.expect('connack');
    assert.equal(connack.reasonCode, ReasonCode.UnsupportedProtocolVersion);
    await client.waitClosed();
  });

  test('[MQTT-3.1.3-8] 3.1.1: an empty client id with CleanSession 0 is refused with 0x02', async () => {
    const b = await broker();
    const client = new RawClient(b, 4);
    const connack = await client.connect({ clientId: '', clean: false });
    assert.equal(connack.reasonCode, 0x02);
    await client.waitClosed();
  });

  test('[MQTT-3.1.3-6] 3.1.1: an empty client id with CleanSession 1 is accepted', async () => {
    const b = await broker();
    const client = new RawClient(b, 4);
    const connack = await client.connect({ clientId: '', clean: true });
    assert.equal(connack.reasonCode, 0);
    client.destroy();
  });

  test('[MQTT-3.2.2-16] 5.0: an empty client id gets an Assigned Client Identifier', async () => {
    const b = await broker();
    const client = new RawClient(b, 5);
    const connack = await client.connect({ clientId: '' });
    assert.equal(connack.reasonCode, 0);
    const assigned = connack.properties?.assignedClientIdentifier;
    assert.ok(assigned && assigned.length > 0);
    assert.ok(b.sessions.has(assigned));
    client.destroy();
  });

  test('3.1: an empty client id or one over 23 characters is refused with 0x02', async () => {
    const b = await broker();
    for (const clientId of ['', 'x'.repeat(24)]) {
      const client = new RawClient(b, 3);
      const connack = await client.connect({ clientId });
      assert.equal(connack.reasonCode, 0x02);
      await client.waitClosed();
    }
  });

  test('5.0 CONNACK announces the server limits and availability', async () => {
    const b = await broker({ receiveMaximum: 100, maxPacketSize: 4096, topicAliasMaximum: 10 });
    const client = new RawClient(b, 5);
    const connack = await client.connect({ clientId: 'props' });
    assert.equal(connack.properties?.receiveMaximum, 100);
    assert.equal(connack.properties?.maximumPacketSize, 4096);
    assert.equal(connack.properties?.topicAliasMaximum, 10);
    assert.equal(connack.properties?.retainAvailable, undefined);
    assert.equal(connack.properties?.maximumQoS, undefined);
    client.destroy();
  });

  test('5.0 CONNACK says Retain Available 0 and Maximum QoS when limited', async () => {
    const b = await broker({ retainAvailable: false, maximumQoS: 1 });
    const client = new RawClient(b, 5);
    const connack = await client.connect({ clientId: 'limited' });
    assert.equal(connack.properties?.retainAvailable, 0);
    assert.equal(connack.properties?.maximumQoS, 1);
    client.destroy();
  });

  test('[MQTT-3.1.2-28] Response Information only when requested', async () => {
    const b = await broker();
    const plain = new RawClient(b, 5);
    assert.equal((await plain.connect({ clientId: 'r1' })).properties?.responseInformation, undefined);
    const asking = new RawClient(b, 5);
    const connack = await asking.connect({ clientId: 'r2', properties: { requestResponseInformation: 1 } });
    assert.equal(connack.properties?.responseInformation, 'response/r2');
    plain.destroy();
    asking.destroy();
  });

  test('[MQTT-3.1.4-3] session takeover: the old 5.0 connection gets DISCONNECT 0x8E and is closed', async () => {
    const b = await broker();
    const first = await connected(b, 'same');
    const second = await connected(b, 'same');
    const disconnect = await first.expect('disconnect');
    assert.equal(disconnect.reasonCode, ReasonCode.SessionTakenOver);
    await first.waitClosed();
    second.send({ type: 'pingreq' });
    await second.expect('pingresp');
    second.destroy();
  });

  test('[MQTT-3.1.4-3] session takeover on 3.1.1 closes the old connection', async () => {
    const b = await broker();
    const first = await connected(b, 'same4', 4);
    const second = await connected(b, 'same4', 4);
    await first.waitClosed();
    assert.equal(first.received.length, 0);
    second.destroy();
  });

  test('[MQTT-3.2.2-2] Clean Start 0 resumes a session: Session Present 1 and subscriptions kept', async () => {
    const b = await broker();
    const first = await connected(b, 'resume', 5, { clean: true, properties: { sessionExpiryInterval: 60 } });
    await first.subscribe('keep/#', 1);
    first.destroy();
    await delay(10);
    const again = new RawClient(b, 5);
    const connack = await again.connect({
      clientId: 'resume',
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    });
    assert.equal(connack.sessionPresent, true);
    const publisher = await connected(b, 'pub');
    publisher.publish({ topic: 'keep/it', payload: Buffer.from('x'), qos: 1, packetId: 5 });
    await publisher.expect('puback');
    const msg = await again.expect('publish');
    assert.equal(msg.topic, 'keep/it');
    again.destroy();
    publisher.destroy();
  });

  test('[MQTT-3.2.2-3] Clean Start 1 discards the session: Session Present 0', async () => {
    const b = await broker();
    const first = await connected(b, 'cleaned', 5, { properties: { sessionExpiryInterval: 60 } });
    await first.subscribe('a', 1);
    first.destroy();
    await delay(10);
    const again = new RawClient(b, 5);
    const connack = await again.connect({ clientId: 'cleaned', clean: true });
    assert.equal(connack.sessionPresent, false);
    assert.equal(b.sessions.get('cleaned')?.subscriptions.size, 0);
    again.destroy();
  });

  test('[MQTT-3.1.2-4] 3.1.1 CleanSession 0 keeps the session; CleanSession 1 starts fresh', async () => {
    const b = await broker();
    const first = await connected(b, 'cs4', 4, { clean: false });
    await first.subscribe('t', 1);
    first.destroy();
    await delay(10);
    const again = new RawClient(b, 4);
    assert.equal((await again.connect({ clientId: 'cs4', clean: false })).sessionPresent, true);
    again.destroy();
    await delay(10);
    const fresh = new RawClient(b, 4);
    assert.equal((await fresh.connect({ clientId: 'cs4', clean: true })).sessionPresent, false);
    fresh.destroy();
    await delay(10);
    assert.equal(b.sessions.has('cs4'), false);
  });

  test('Session Expiry Interval 0 ends the session with the connection', async () => {
    const b = await broker();
    const client = await connected(b, 'gone');
    await client.subscribe('x');
    client.destroy();
    await delay(10);
    assert.equal(b.sessions.has('gone'), false);
    assert.equal(b.stats.subscriptions, 0);
  });

  test('Session Expiry Interval N removes the session N seconds after the disconnect', async () => {
    let now = 1_000_000;
    const b = await broker({ clock: { now: () => now } });
    const client = await connected(b, 'expires', 5, { properties: { sessionExpiryInterval: 1 } });
    client.destroy();
    await delay(10);
    assert.equal(b.sessions.has('expires'), true);
    now += 1000;
    await delay(1100);
    assert.equal(b.sessions.has('expires'), false);
  });

  test('[MQTT-3.14.2-2] DISCONNECT may not set a Session Expiry Interval after CONNECT had 0', async () => {
    const b = await broker();
    const client = await connected(b, 'zero');
    client.send({ type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 30 } });
    const disconnect = await client.expect('disconnect');
    assert.equal(disconnect.reasonCode, ReasonCode.ProtocolError);
    await client.waitClosed();
  });

  test('DISCONNECT can shorten the Session Expiry Interval to 0, ending the session', async () => {
    const b = await broker();
    const client = await connected(b, 'shorten', 5, { properties: { sessionExpiryInterval: 300 } });
    client.disconnect(0, { sessionExpiryInterval: 0 });
    await client.waitClosed();
    await delay(5);
    assert.equal(b.sessions.has('shorten'), false);
  });

  test('[MQTT-3.12.4-1] PINGREQ is answered with PINGRESP', async () => {
    const b = await broker();
    const client = await connected(b, 'ping', 4);
    client.send({ type: 'pingreq' });
    await client.expect('pingresp');
    client.destroy();
  });

  test('[MQTT-3.1.2-24] keep alive: no packet for 1.5 x Keep Alive closes the connection (DISCONNECT 0x8D)', async () => {
    const b = await broker();
    const client = await connected(b, 'idle', 5, { keepAlive: 1 });
    const started = Date.now();
    const disconnect = await client.expect('disconnect', 5000);
    assert.equal(disconnect.reasonCode, ReasonCode.KeepAliveTimeout);
    const waited = Date.now() - started;
    assert.ok(waited >= 1400 && waited < 4000, `closed after ${waited} ms`);
    await client.waitClosed();
  });

  test('[MQTT-3.2.2-21] Server Keep Alive caps the client keep alive when the broker limits it', async () => {
    const b = await broker({ maxKeepAlive: 30 });
    const client = new RawClient(b, 5);
    const connack = await client.connect({ clientId: 'capped', keepAlive: 120 });
    assert.equal(connack.properties?.serverKeepAlive, 30);
    client.destroy();
    const v4 = new RawClient(b, 4);
    const refused = await v4.connect({ clientId: 'capped4', keepAlive: 120 });
    assert.equal(refused.reasonCode, 0x02);
  });

  test('a connection that sends no CONNECT is closed after the connect timeout', async () => {
    const b = await broker({ connectTimeoutMs: 100 });
    const client = new RawClient(b, 5);
    await client.waitClosed(1000);
  });

  test('anonymous clients are refused off loopback unless allowAnonymous', async () => {
    const b = await broker();
    const remote = new RawClient(b, 5, { loopbackOnly: false, remoteAddress: '192.0.2.1' });
    assert.equal((await remote.connect({ clientId: 'anon' })).reasonCode, ReasonCode.NotAuthorized);
    const remote4 = new RawClient(b, 4, { loopbackOnly: false });
    assert.equal((await remote4.connect({ clientId: 'anon4' })).reasonCode, 0x05);
    const named = new RawClient(b, 5, { loopbackOnly: false });
    assert.equal((await named.connect({ clientId: 'named', username: 'u' })).reasonCode, 0);
    named.destroy();
    const open = await broker({ allowAnonymous: true });
    const anon = new RawClient(open, 5, { loopbackOnly: false });
    assert.equal((await anon.connect({ clientId: 'anon' })).reasonCode, 0);
    anon.destroy();
  });

  test('username and password are handed to the authenticator; its refusal is the CONNACK code', async () => {
    const seen: unknown[] = [];
    const b = await broker({
      authenticator: {
        authenticate: async (request: { username?: string; password?: Buffer }) => {
          seen.push([request.username, request.password?.toString()]);
          return request.password?.toString() === 'secret' ? { ok: true } : { ok: false, reasonCode: 0x86 };
        },
      },
    });
    const bad = new RawClient(b, 5);
    assert.equal((await bad.connect({ clientId: 'a', username: 'u', password: Buffer.from('nope') })).reasonCode, 0x86);
    const bad4 = new RawClient(b, 4);
    assert.equal(
      (await bad4.connect({ clientId: 'b', username: 'u', password: Buffer.from('nope') })).reasonCode,
      0x04,
    );
    const good = new RawClient(b, 5);
    assert.equal((await good.connect({ clientId: 'c', username: 'u', password: Buffer.from('secret') })).reasonCode, 0);
    assert.deepEqual(seen[0], ['u', 'nope']);
    good.destroy();
  });

  test('packets sent right after CONNECT are handled after an asynchronous authentication', async () => {
    const b = await broker({
      authenticator: { authenticate: () => new Promise((r) => setTimeout(() => r({ ok: true }), 20)) },
    });
    const client = new RawClient(b, 5);
    client.send(client.connectPacket({ clientId: 'eager' }));
    client.send({ type: 'pingreq' });
    await client.expect('connack');
    await client.expect('pingresp');
    client.destroy();
  });

  test('[MQTT-3.14.4-1] the server closes the connection after a DISCONNECT', async () => {
    const b = await broker();
    const client = await connected(b, 'bye');
    client.send({ type: 'disconnect' });
    await client.waitClosed();
  });

  test('close() sends DISCONNECT 0x8B to 5.0 clients and closes 3.1.1 clients', async () => {
    const b = await startBroker();
    const v5 = await connected(b, 'five');
    const v4 = await connected(b, 'four', 4);
    await b.close();
    const disconnect = await v5.expect('disconnect');
    assert.equal(disconnect.reasonCode, ReasonCode.ServerShuttingDown);
    await v5.waitClosed();
    await v4.waitClosed();
  });

  test('[MQTT-3.2.2-12] a Will QoS above the Maximum QoS gets CONNACK 0x9B', async () => {
    const b = await broker({ maximumQoS: 1 });
    const client = new RawClient(b, 5);
    const connack = await client.connect({
      clientId: 'will2',
      will: { topic: 'w', payload: Buffer.from('x'), qos: 2, retain: false },
    });
    assert.equal(connack.reasonCode, ReasonCode.QoSNotSupported);
    assert.equal(connack.sessionPresent, false);
    await client.waitClosed();
  });

  test('[MQTT-3.2.2-13] a retained will when Retain Available is 0 gets CONNACK 0x9A', async () => {
    const b = await broker({ retainAvailable: false });
    const client = new RawClient(b, 5);
    const connack = await client.connect({
      clientId: 'will-r',
      will: { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: true },
    });
    assert.equal(connack.reasonCode, ReasonCode.RetainNotSupported);
  });

  test('[MQTT-3.2.2-14] a retained PUBLISH when Retain Available is 0 gets DISCONNECT 0x9A', async () => {
    const b = await broker({ retainAvailable: false });
    const client = await connected(b, 'no-retain');
    client.publish({ topic: 'r', payload: Buffer.from('x'), retain: true });
    assert.equal((await client.expect('disconnect')).reasonCode, ReasonCode.RetainNotSupported);
  });

  test('a will topic with a wildcard gets CONNACK 0x90 (5.0) / 0x03-class refusal (3.1.1)', async () => {
    const b = await broker();
    const client = new RawClient(b, 5);
    const connack = await client.connect({
      clientId: 'bad-will',
      will: { topic: 'w/#', payload: Buffer.from('x'), qos: 0, retain: false },
    });
    assert.equal(connack.reasonCode, ReasonCode.TopicNameInvalid);
    await client.waitClosed();
  });
});
