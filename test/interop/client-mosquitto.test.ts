// Starling's client against a broker we did not write: Debian's Mosquitto, over real sockets,
// for MQTT 3.1.1 and 5.0. The shared client suite, plus what needs Mosquitto's own configuration.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect } from '../../src/client/index.js';
import { MqttError } from '../../src/protocol/errors.js';
import type { ProtocolVersion } from '../../src/protocol/packets.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { sleep, waitFor } from '../client/helpers.js';
import { clientSuite, type SuiteContext, type SuiteServer } from '../client/shared-suite.js';
import { mosquittoSkipReason, startMosquitto } from '../helpers/mosquitto.js';

const skip = mosquittoSkipReason ?? false;
if (mosquittoSkipReason) console.log(`# ${mosquittoSkipReason}`);

async function startServer(): Promise<SuiteServer> {
  const mosquitto = await startMosquitto();
  return { url: `mqtt://127.0.0.1:${mosquitto.port}`, stop: () => mosquitto.stop() };
}

function mosquittoTests({ version, client, endClients, unique, persistent, collect }: SuiteContext): void {
  test('[MQTT-3.2.2-5] re-subscribes when the server lost the session', async () => {
    const own = await startMosquitto();
    try {
      const url = `mqtt://127.0.0.1:${own.port}`;
      const topic = unique('resub');
      const sub = await client({}, url);
      const messages = collect(sub);
      await sub.subscribe(topic, { qos: 1 });
      const connects: boolean[] = [];
      sub.on('connect', (info) => connects.push(info.sessionPresent));
      await own.restart();
      await waitFor(() => connects.length === 1, 'the reconnect');
      assert.deepEqual(connects, [false]);
      const pub = await client({}, url);
      // The SUBSCRIBE after reconnect may still be on its way; publish until one arrives (bounded).
      for (let attempt = 0; attempt < 50 && messages.length === 0; attempt++) {
        await pub.publish(topic, 'after restart', { qos: 1 });
        await sleep(20);
      }
      assert.ok(messages.length > 0);
      assert.equal(messages[0]?.payload.toString(), 'after restart');
    } finally {
      await endClients();
      await own.stop();
    }
  });

  test('Mosquitto restart with persistence: no QoS 1 loss, no QoS 2 duplicate', async () => {
    const own = await startMosquitto({ persistence: true });
    try {
      const url = `mqtt://127.0.0.1:${own.port}`;
      const topic = unique('restart');
      const sub = await client(persistent(`restart-sub-${version}`), url);
      const messages = collect(sub);
      await sub.subscribe(`${topic}/#`, { qos: 2 });
      const pub = await client(persistent(`restart-pub-${version}`), url);
      const count = 20;
      const sent: Promise<void>[] = [];
      for (let i = 0; i < count; i++) {
        sent.push(pub.publish(`${topic}/q1`, `${i}`, { qos: 1 }));
        sent.push(pub.publish(`${topic}/q2`, `${i}`, { qos: 2 }));
        if (i === count / 2) await own.restart();
      }
      await Promise.all(sent);
      await waitFor(
        () => new Set(messages.filter((m) => m.topic.endsWith('q1')).map((m) => m.payload.toString())).size === count,
        'every QoS 1 message',
      );
      await waitFor(() => messages.filter((m) => m.topic.endsWith('q2')).length >= count, 'every QoS 2 message');
      await sleep(100);
      const q2 = messages.filter((m) => m.topic.endsWith('q2')).map((m) => m.payload.toString());
      assert.equal(q2.length, count, `QoS 2 delivered exactly once each: ${q2.join(',')}`);
      assert.equal(new Set(q2).size, count);
    } finally {
      await endClients();
      await own.stop();
    }
  });

  test('a refused connection rejects with the CONNACK reason as an MqttError', async () => {
    const own = await startMosquitto({ config: ['allow_anonymous false'] });
    try {
      await assert.rejects(
        connect(`mqtt://127.0.0.1:${own.port}`, { protocolVersion: version, reconnect: false }),
        (error: unknown) => {
          assert.ok(error instanceof MqttError);
          assert.equal(error.reasonCode, ReasonCode.NotAuthorized);
          assert.match(error.message, /Not authorized/);
          return true;
        },
      );
    } finally {
      await own.stop();
    }
  });

  if (version === 5) {
    test('[MQTT-3.3.4-7] receive maximum: never more QoS 1 publishes in flight than the server allows', async () => {
      const own = await startMosquitto({ config: ['max_inflight_messages 2'] });
      try {
        const pub = await client({}, `mqtt://127.0.0.1:${own.port}`);
        assert.equal(pub.serverProperties.receiveMaximum, 2);
        let highest = 0;
        const sent: Promise<void>[] = [];
        for (let i = 0; i < 20; i++) {
          sent.push(pub.publish('flow', `${i}`, { qos: 1 }));
          highest = Math.max(highest, pub.inflightCount);
        }
        assert.equal(pub.queuedCount, 18);
        await Promise.all(sent);
        assert.equal(highest, 2);
      } finally {
        await endClients();
        await own.stop();
      }
    });

    test('[MQTT-3.2.2-15] a PUBLISH larger than the server maximum packet size is refused locally', async () => {
      const own = await startMosquitto({ config: ['max_packet_size 200'] });
      try {
        const pub = await client({}, `mqtt://127.0.0.1:${own.port}`);
        assert.equal(pub.serverProperties.maximumPacketSize, 200);
        await assert.rejects(pub.publish('big', Buffer.alloc(500), { qos: 1 }), (error: unknown) => {
          return error instanceof MqttError && error.reasonCode === ReasonCode.PacketTooLarge;
        });
        await pub.publish('small', Buffer.alloc(50), { qos: 1 });
        assert.equal(pub.connected, true);
      } finally {
        await endClients();
        await own.stop();
      }
    });
  }
}

for (const version of [4, 5] as ProtocolVersion[]) {
  const label = version === 5 ? '5.0' : '3.1.1';
  clientSuite(`Starling client against Mosquitto, MQTT ${label}`, version, startServer, {
    skip,
    extra: mosquittoTests,
  });
}
