// The client behaviour every MQTT server must see the same way, run against each server we test
// with (Mosquitto in test/interop/client-mosquitto.test.ts, Starling's broker in
// client-starling.test.ts): one suite, several peers.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { type ClientOptions, connect, type Message, type MqttClient, MqttError } from '../../src/client/index.js';
import type { ProtocolVersion, PublishPacket } from '../../src/protocol/packets.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { sleep, tapTransport, waitFor } from './helpers.js';

export interface SuiteServer {
  /** mqtt://127.0.0.1:port (or ws://...) */
  url: string;
  stop(): Promise<void>;
}

/** What a suite's tests get to build their own tests on. */
export interface SuiteContext {
  version: ProtocolVersion;
  /** The server of this suite. */
  url(): string;
  /** A connected client that the suite ends after the test. */
  client(options?: ClientOptions, url?: string): Promise<MqttClient>;
  /** Ends the clients of the current test now (before stopping a server of its own). */
  endClients(): Promise<void>;
  unique(name: string): string;
  /** A persistent session on either protocol level. */
  persistent(clientId: string): ClientOptions;
  collect(client: MqttClient): Message[];
}

/** Fast reconnects, so that the tests measure behaviour rather than backoff. */
export const quickReconnect = { initialDelay: 20, maxDelay: 200, jitter: 0 };

export function clientSuite(
  name: string,
  version: ProtocolVersion,
  start: () => Promise<SuiteServer>,
  options: { skip?: string | false; extra?: (context: SuiteContext) => void } = {},
): void {
  describe(name, { skip: options.skip ?? false }, () => {
    let server: SuiteServer | undefined;
    let open: MqttClient[] = [];
    let topicCounter = 0;
    const unique = (name: string): string => `starling-test/${version}/${name}/${++topicCounter}`;
    const url = (): string => (server as SuiteServer).url;

    const client = async (clientOptions: ClientOptions = {}, at?: string): Promise<MqttClient> => {
      const c = await connect(at ?? url(), { protocolVersion: version, reconnect: quickReconnect, ...clientOptions });
      open.push(c);
      return c;
    };
    const endClients = async (): Promise<void> => {
      await Promise.all(open.map((c) => c.end().catch(() => undefined)));
      open = [];
    };

    // Clean Start 0 also on MQTT 5: Mosquitto 2.0 does not restore a Clean Start 1 session from its persistence file.
    const persistent = (clientId: string): ClientOptions =>
      version === 5 ? { clientId, clean: false, sessionExpiryInterval: 300 } : { clientId, clean: false };

    const collect = (c: MqttClient): Message[] => {
      const messages: Message[] = [];
      c.on('message', (m) => messages.push(m));
      return messages;
    };

    before(async () => {
      server = await start();
    });
    after(async () => {
      await server?.stop();
    });
    afterEach(endClients);

    test('publishes and receives at QoS 0, 1 and 2', async () => {
      const topic = unique('qos');
      const sub = await client();
      assert.deepEqual(await sub.subscribe(topic, { qos: 2 }), [2]);
      const stream = sub.messages();
      const pub = await client();
      await pub.publish(topic, 'zero');
      await pub.publish(topic, 'one', { qos: 1 });
      await pub.publish(topic, Buffer.from([0, 1, 2, 255]), { qos: 2 });
      const received: Message[] = [];
      for await (const message of stream) {
        received.push(message);
        if (received.length === 3) break;
      }
      assert.deepEqual(
        received.map((m) => [m.topic, m.qos, m.retain]),
        [
          [topic, 0, false],
          [topic, 1, false],
          [topic, 2, false],
        ],
      );
      assert.equal(received[0]?.payload.toString(), 'zero');
      assert.equal(received[1]?.payload.toString(), 'one');
      assert.deepEqual([...(received[2]?.payload ?? [])], [0, 1, 2, 255]);
      assert.equal(pub.inflightCount, 0);
    });

    test('[MQTT-3.3.1-6] a retained message goes to later subscribers with RETAIN set', async () => {
      const topic = unique('retained');
      const pub = await client();
      await pub.publish(topic, 'kept', { qos: 1, retain: true });
      const sub = await client();
      const messages = collect(sub);
      await sub.subscribe(topic, { qos: 1 });
      await waitFor(() => messages.length === 1, 'the retained message');
      assert.equal(messages[0]?.retain, true);
      assert.equal(messages[0]?.payload.toString(), 'kept');
      // [MQTT-3.3.1-10] an empty retained message clears it
      await pub.publish(topic, '', { qos: 1, retain: true });
      const late = await client();
      const lateMessages = collect(late);
      await late.subscribe([topic, `${topic}/barrier`], { qos: 1 });
      await pub.publish(`${topic}/barrier`, 'b', { qos: 1 });
      await waitFor(() => lateMessages.length > 0, 'the barrier message');
      assert.deepEqual(
        lateMessages.map((m) => m.topic),
        [`${topic}/barrier`],
      );
    });

    test('[MQTT-3.1.2-8] the will is published when the connection drops', async () => {
      const topic = unique('will');
      const sub = await client();
      const messages = collect(sub);
      await sub.subscribe(topic, { qos: 1 });
      const tap = tapTransport(version);
      await client({
        transport: tap.factory,
        reconnect: false,
        will: { topic, payload: 'gone', qos: 1, retain: false },
      });
      tap.cut();
      await waitFor(() => messages.length === 1, 'the will message');
      assert.equal(messages[0]?.payload.toString(), 'gone');
      assert.equal(messages[0]?.qos, 1);
    });

    test('[MQTT-3.1.2-10] no will after a clean DISCONNECT', async () => {
      const topic = unique('nowill');
      const sub = await client();
      const messages = collect(sub);
      await sub.subscribe([topic, `${topic}/barrier`], { qos: 1 });
      const leaving = await connect(url(), {
        protocolVersion: version,
        will: { topic, payload: 'gone', qos: 1 },
      });
      await leaving.end();
      const pub = await client();
      await pub.publish(`${topic}/barrier`, 'b', { qos: 1 });
      await waitFor(() => messages.length > 0, 'the barrier message');
      assert.deepEqual(
        messages.map((m) => m.topic),
        [`${topic}/barrier`],
      );
    });

    test('unsubscribe stops delivery', async () => {
      const topic = unique('unsub');
      const sub = await client();
      const messages = collect(sub);
      await sub.subscribe([topic, `${topic}/barrier`], { qos: 1 });
      assert.deepEqual(await sub.unsubscribe(topic), [0]);
      const pub = await client();
      await pub.publish(topic, 'not for you', { qos: 1 });
      await pub.publish(`${topic}/barrier`, 'b', { qos: 1 });
      await waitFor(() => messages.length > 0, 'the barrier message');
      assert.deepEqual(
        messages.map((m) => m.topic),
        [`${topic}/barrier`],
      );
    });

    test('[MQTT-4.4.0-1] a QoS 1 PUBLISH lost with the connection is re-sent with DUP and its id', async () => {
      const topic = unique('resend1');
      const sub = await client();
      const messages = collect(sub);
      await sub.subscribe(topic, { qos: 1 });
      const tap = tapTransport(version);
      const pub = await client({ ...persistent(`resend1-${version}`), transport: tap.factory });
      tap.drop = (packet) => packet.type === 'publish';
      const done = pub.publish(topic, 'again', { qos: 1 });
      await waitFor(() => tap.sent.some((p) => p.type === 'publish'), 'the first PUBLISH');
      tap.drop = () => false;
      tap.cut();
      await done;
      const publishes = tap.sent.filter((p): p is PublishPacket => p.type === 'publish');
      assert.equal(publishes.length, 2);
      assert.equal(publishes[0]?.dup, false);
      assert.equal(publishes[1]?.dup, true);
      assert.equal(publishes[1]?.packetId, publishes[0]?.packetId);
      await waitFor(() => messages.length === 1, 'the message');
      assert.equal(messages[0]?.payload.toString(), 'again');
    });

    test('[MQTT-4.4.0-1] QoS 2 stays exactly once when PUBREL is lost with the connection', async () => {
      const topic = unique('resend2');
      const sub = await client();
      const messages = collect(sub);
      await sub.subscribe([topic, `${topic}/barrier`], { qos: 2 });
      const tap = tapTransport(version);
      const pub = await client({ ...persistent(`resend2-${version}`), transport: tap.factory });
      tap.drop = (packet) => packet.type === 'pubrel';
      const done = pub.publish(topic, 'once', { qos: 2 });
      await waitFor(() => tap.sent.some((p) => p.type === 'pubrel'), 'the first PUBREL');
      tap.drop = () => false;
      tap.cut();
      await done;
      assert.equal(tap.sent.filter((p) => p.type === 'publish').length, 1, 'PUBLISH was not repeated');
      assert.equal(tap.sent.filter((p) => p.type === 'pubrel').length, 2, 'PUBREL was re-sent');
      await pub.publish(`${topic}/barrier`, 'b', { qos: 2 });
      await waitFor(() => messages.some((m) => m.topic.endsWith('barrier')), 'the barrier message');
      assert.equal(messages.filter((m) => m.topic === topic).length, 1);
    });

    test('[MQTT-4.3.3-9] an inbound QoS 2 message re-sent after a lost PUBREC is delivered once', async () => {
      const topic = unique('inbound2');
      const tap = tapTransport(version);
      const sub = await client({ ...persistent(`inbound2-${version}`), transport: tap.factory });
      const messages = collect(sub);
      await sub.subscribe([topic, `${topic}/barrier`], { qos: 2 });
      tap.drop = (packet) => packet.type === 'pubrec';
      const pub = await client();
      await pub.publish(topic, 'only once', { qos: 2 }).catch(() => undefined);
      await waitFor(() => tap.sent.some((p) => p.type === 'pubrec'), 'the first PUBREC');
      tap.drop = () => false;
      tap.cut();
      await waitFor(() => tap.sent.some((p) => p.type === 'pubcomp'), 'the PUBCOMP after reconnect');
      await pub.publish(`${topic}/barrier`, 'b', { qos: 2 });
      await waitFor(() => messages.some((m) => m.topic.endsWith('barrier')), 'the barrier message');
      assert.equal(messages.filter((m) => m.topic === topic).length, 1);
    });

    test('messages published while offline are queued and sent after reconnect', async () => {
      const topic = unique('offline');
      const sub = await client();
      const messages = collect(sub);
      await sub.subscribe(topic, { qos: 1 });
      const tap = tapTransport(version);
      const pub = await client({ transport: tap.factory, reconnect: { initialDelay: 150, jitter: 0 } });
      tap.cut();
      await waitFor(() => pub.state === 'offline', 'the client to go offline');
      const sent = [0, 1, 2].map((i) => pub.publish(topic, `m${i}`, { qos: (i % 2) as 0 | 1 }));
      assert.equal(pub.queuedCount, 3);
      await Promise.all(sent);
      await waitFor(() => messages.length === 3, 'three messages');
      assert.deepEqual(
        messages.map((m) => m.payload.toString()),
        ['m0', 'm1', 'm2'],
      );
    });

    test('the offline queue is bounded: publish rejects with Quota exceeded beyond it', async () => {
      const tap = tapTransport(version);
      const pub = await client({ transport: tap.factory, maxQueuedMessages: 2, reconnect: { initialDelay: 5000 } });
      tap.cut();
      await waitFor(() => pub.state === 'offline', 'the client to go offline');
      const first = pub.publish('a', '1', { qos: 1 });
      const second = pub.publish('a', '2', { qos: 1 });
      await assert.rejects(pub.publish('a', '3', { qos: 1 }), (error: unknown) => {
        return error instanceof MqttError && error.reasonCode === ReasonCode.QuotaExceeded;
      });
      await pub.end();
      await assert.rejects(first, MqttError);
      await assert.rejects(second, MqttError);
    });

    if (version === 4) {
      test('MQTT 3.1 (protocol name MQIsdp, level 3) publishes and subscribes too', async () => {
        const topic = unique('v3');
        const sub = await client({ protocolVersion: 3 });
        const messages = collect(sub);
        assert.deepEqual(await sub.subscribe(topic, { qos: 2 }), [2]);
        const pub = await client({ protocolVersion: 3 });
        await pub.publish(topic, 'old but gold', { qos: 2 });
        await pub.publish(topic, 'once more', { qos: 1 });
        await waitFor(() => messages.length === 2, 'two messages');
        assert.deepEqual(
          messages.map((m) => [m.payload.toString(), m.qos]),
          [
            ['old but gold', 2],
            ['once more', 1],
          ],
        );
      });
    }

    if (version === 5) {
      test('MQTT 5 message properties travel end to end', async () => {
        const topic = unique('props');
        const sub = await client();
        const messages = collect(sub);
        await sub.subscribe(topic, { qos: 1, subscriptionIdentifier: 42 });
        const pub = await client();
        await pub.publish(topic, '{"t":21}', {
          qos: 1,
          properties: {
            userProperties: [
              ['unit', 'celsius'],
              ['unit', 'kelvin'],
            ],
            contentType: 'application/json',
            payloadFormatIndicator: 1,
            messageExpiryInterval: 120,
            responseTopic: `${topic}/reply`,
            correlationData: Buffer.from('abc'),
          },
        });
        await waitFor(() => messages.length === 1, 'the message');
        const properties = messages[0]?.properties ?? {};
        assert.deepEqual(properties.userProperties, [
          ['unit', 'celsius'],
          ['unit', 'kelvin'],
        ]);
        assert.equal(properties.contentType, 'application/json');
        assert.equal(properties.payloadFormatIndicator, 1);
        assert.equal(properties.responseTopic, `${topic}/reply`);
        assert.equal(properties.correlationData?.toString(), 'abc');
        assert.deepEqual(properties.subscriptionIdentifiers, [42]);
        // [MQTT-3.3.2-6] the server forwards the remaining expiry, never more than was sent
        assert.ok((properties.messageExpiryInterval ?? 0) > 0 && (properties.messageExpiryInterval ?? 0) <= 120);
      });

      test('[MQTT-3.3.2-5] an expired retained message is not delivered', async () => {
        const topic = unique('expiry');
        const pub = await client();
        await pub.publish(topic, 'short-lived', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
        await sleep(2100);
        const sub = await client();
        const messages = collect(sub);
        await sub.subscribe([topic, `${topic}/barrier`], { qos: 1 });
        await pub.publish(`${topic}/barrier`, 'b', { qos: 1 });
        await waitFor(() => messages.length > 0, 'the barrier message');
        assert.deepEqual(
          messages.map((m) => m.topic),
          [`${topic}/barrier`],
        );
      });

      test('request() gets the response through response topic and correlation data', async () => {
        const topic = unique('rpc');
        const responder = await client();
        await responder.subscribe(topic, { qos: 1 });
        responder.on('message', (m) => {
          const responseTopic = m.properties?.responseTopic;
          if (!responseTopic) return;
          void responder.publish(responseTopic, `echo ${m.payload}`, {
            qos: 1,
            properties: { correlationData: m.properties?.correlationData },
          });
        });
        const requester = await client();
        const [a, b] = await Promise.all([requester.request(topic, 'a'), requester.request(topic, 'b')]);
        assert.equal(a.payload.toString(), 'echo a');
        assert.equal(b.payload.toString(), 'echo b');
      });

      test('[MQTT-3.3.2-9] outgoing topic aliases: the topic is sent once, then only the alias', async () => {
        const topic = unique('alias');
        const sub = await client();
        const messages = collect(sub);
        await sub.subscribe(topic, { qos: 1 });
        const tap = tapTransport(5);
        const pub = await client({ transport: tap.factory });
        assert.ok((pub.serverProperties.topicAliasMaximum ?? 0) >= 1);
        for (let i = 0; i < 3; i++) await pub.publish(topic, `m${i}`, { qos: 1 });
        const publishes = tap.sent.filter((p): p is PublishPacket => p.type === 'publish');
        assert.deepEqual(
          publishes.map((p) => [p.topic, p.properties?.topicAlias]),
          [
            [topic, 1],
            ['', 1],
            ['', 1],
          ],
        );
        await waitFor(() => messages.length === 3, 'three messages');
        assert.deepEqual(
          messages.map((m) => m.topic),
          [topic, topic, topic],
        );
      });

      test('[MQTT-3.1.2-23] session expiry: a session outlives the connection and keeps QoS 1 messages', async () => {
        const topic = unique('expiry-session');
        const clientId = `session-expiry-${Date.now()}`;
        const first = await connect(url(), {
          protocolVersion: 5,
          clientId,
          sessionExpiryInterval: 60,
        });
        await first.subscribe(topic, { qos: 1 });
        await first.end();
        const pub = await client();
        await pub.publish(topic, 'while away', { qos: 1 });
        const second = await connect(url(), {
          protocolVersion: 5,
          clientId,
          clean: false,
          sessionExpiryInterval: 60,
        });
        open.push(second);
        assert.equal(second.sessionPresent, true);
        const messages = collect(second);
        await waitFor(() => messages.length === 1, 'the queued message');
        assert.equal(messages[0]?.payload.toString(), 'while away');
        // §3.14.2.2.2: DISCONNECT may shorten the session's life; 0 ends it with the connection.
        await second.end({ sessionExpiryInterval: 0 });
        const third = await connect(url(), {
          protocolVersion: 5,
          clientId,
          clean: false,
        });
        open.push(third);
        assert.equal(third.sessionPresent, false);
      });
    }

    options.extra?.({ version, url, client, endClients, unique, persistent, collect });
  });
}
