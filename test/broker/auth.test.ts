import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Broker } from '../../src/broker/broker.js';
import type { AuthEvent } from '../../src/broker/hooks.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { connected, RawClient, useBrokers } from './helpers.js';

describe('enhanced authentication, authorization and problem information', () => {
  const broker = useBrokers();

  // A two-step challenge/response: the server asks for 'challenge', the client answers 'response'.
  const hooks = {
    onAuth(event: AuthEvent) {
      if (event.method !== 'demo') return undefined;
      if (event.step === 'connect' || event.step === 'reauthenticate') {
        return { action: 'continue' as const, data: Buffer.from('challenge') };
      }
      return event.data?.toString() === 'response'
        ? { action: 'success' as const, data: Buffer.from('welcome') }
        : { action: 'fail' as const, reasonCode: ReasonCode.NotAuthorized };
    },
  };

  /** A 5.0 client that has sent CONNECT with the 'demo' method (the broker answers with a challenge). */
  function startDemo(b: Broker, clientId: string): RawClient {
    const client = new RawClient(b, 5);
    client.send(client.connectPacket({ clientId, properties: { authenticationMethod: 'demo' } }));
    return client;
  }

  /** The client's AUTH answering a challenge with `data`. */
  function answer(client: RawClient, data: string): void {
    client.send({
      type: 'auth',
      reasonCode: ReasonCode.ContinueAuthentication,
      properties: { authenticationMethod: 'demo', authenticationData: Buffer.from(data) },
    });
  }

  test('[MQTT-4.12.0-1] an AUTH exchange through the onAuth hook ends in CONNACK with the method', async () => {
    const b = await broker({ hooks });
    const client = startDemo(b, 'enhanced');
    const challenge = await client.expect('auth');
    assert.equal(challenge.reasonCode, ReasonCode.ContinueAuthentication);
    assert.equal(challenge.properties?.authenticationMethod, 'demo');
    assert.equal(challenge.properties?.authenticationData?.toString(), 'challenge');
    answer(client, 'response');
    const connack = await client.expect('connack');
    assert.equal(connack.reasonCode, 0);
    assert.equal(connack.properties?.authenticationMethod, 'demo');
    assert.equal(connack.properties?.authenticationData?.toString(), 'welcome');
    // Re-authentication (section 4.12.1).
    client.send({ type: 'auth', reasonCode: ReasonCode.ReAuthenticate, properties: { authenticationMethod: 'demo' } });
    assert.equal((await client.expect('auth')).reasonCode, ReasonCode.ContinueAuthentication);
    answer(client, 'response');
    assert.equal((await client.expect('auth')).reasonCode, ReasonCode.Success);
    client.destroy();
  });

  test('a wrong answer in the AUTH exchange gets CONNACK 0x87', async () => {
    const b = await broker({ hooks });
    const client = startDemo(b, 'wrong');
    await client.expect('auth');
    answer(client, 'guess');
    assert.equal((await client.expect('connack')).reasonCode, ReasonCode.NotAuthorized);
    await client.waitClosed();
  });

  test('an unsupported authentication method gets CONNACK 0x8C, with or without a hook', async () => {
    for (const options of [{ hooks }, {}]) {
      const b = await broker(options);
      const client = new RawClient(b, 5);
      const connack = await client.connect({ clientId: 'm', properties: { authenticationMethod: 'SCRAM-SHA-1' } });
      assert.equal(connack.reasonCode, ReasonCode.BadAuthenticationMethod);
      await client.waitClosed();
    }
  });

  test('the authorizer refuses publish (PUBACK 0x87) and subscribe (SUBACK 0x87 / 0x80) and filters reads', async () => {
    const b = await broker({
      authorizer: {
        canPublish: (_c: unknown, topic: string) => !topic.startsWith('secret'),
        canSubscribe: (_c: unknown, filter: string) => filter !== 'forbidden',
        canRead: (client: { clientId: string }, topic: string) => !(client.clientId === 'reader' && topic === 'hidden'),
      },
    });
    const client = await connected(b, 'authz');
    client.publish({ topic: 'secret/x', payload: Buffer.from('x'), qos: 1, packetId: 1 });
    assert.equal((await client.expect('puback')).reasonCode, ReasonCode.NotAuthorized);
    assert.deepEqual(await client.subscribe('forbidden', 1), [ReasonCode.NotAuthorized]);
    const v4 = await connected(b, 'authz4', 4);
    assert.deepEqual(await v4.subscribe('forbidden', 1), [0x80]);
    const reader = await connected(b, 'reader');
    await reader.subscribe('#', 0);
    await b.publish({ topic: 'hidden', payload: 'x' });
    await b.publish({ topic: 'shown', payload: 'y' });
    assert.equal((await reader.expect('publish')).topic, 'shown');
  });

  test('[MQTT-3.1.2-29] Request Problem Information 0: no Reason String on PUBACK; default: a Reason String', async () => {
    const b = await broker();
    const quiet = await connected(b, 'quiet', 5, { properties: { requestProblemInformation: 0 } });
    quiet.publish({ topic: '$SYS/x', payload: Buffer.from('x'), qos: 1, packetId: 1 });
    const ack = await quiet.expect('puback');
    assert.equal(ack.reasonCode, ReasonCode.NotAuthorized);
    assert.equal(ack.properties, undefined);
    const chatty = await connected(b, 'chatty');
    chatty.publish({ topic: '$SYS/x', payload: Buffer.from('x'), qos: 1, packetId: 1 });
    assert.ok((await chatty.expect('puback')).properties?.reasonString);
  });

  test('[MQTT-3.1.2-30] a packet other than AUTH during enhanced authentication gets CONNACK 0x82', async () => {
    const b = await broker({ hooks });
    const client = startDemo(b, 'impatient');
    await client.expect('auth');
    client.send({ type: 'pingreq' });
    assert.equal((await client.expect('connack')).reasonCode, ReasonCode.ProtocolError);
    await client.waitClosed();
  });

  test('[MQTT-4.12.0-6] AUTH from a client that did not start enhanced authentication is a protocol error', async () => {
    const b = await broker({ hooks });
    const client = await connected(b, 'plain-auth');
    client.send({ type: 'auth', reasonCode: ReasonCode.ReAuthenticate, properties: { authenticationMethod: 'demo' } });
    assert.equal((await client.expect('disconnect')).reasonCode, ReasonCode.ProtocolError);
  });

  test('[MQTT-4.12.1-2] a failed re-authentication closes the connection with DISCONNECT', async () => {
    const b = await broker({ hooks });
    const client = startDemo(b, 'reauth-fail');
    await client.expect('auth');
    answer(client, 'response');
    assert.equal((await client.expect('connack')).reasonCode, 0);
    client.send({ type: 'auth', reasonCode: ReasonCode.ReAuthenticate, properties: { authenticationMethod: 'demo' } });
    await client.expect('auth');
    answer(client, 'wrong');
    assert.equal((await client.expect('disconnect')).reasonCode, ReasonCode.NotAuthorized);
    await client.waitClosed();
  });

  test('an enhanced authentication that never completes is closed after the connect timeout', async () => {
    const b = await broker({ hooks, connectTimeoutMs: 150 });
    const client = startDemo(b, 'stalled');
    await client.expect('auth');
    await client.waitClosed(1000);
  });
});
