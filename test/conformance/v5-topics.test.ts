// Topic names and filters as the server must treat them (MQTT 5.0 sections 1.5.4, 3.3.2.3.5 and 4.7; the same rules
// in 3.1.1 sections 1.5.3 and 4.7).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ProtocolVersion } from '../../src/protocol/packets.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { Bench } from './raw-client.js';

// Every test has its own broker, so they run concurrently and the suite stays fast.
describe('topic names and filters (server)', { concurrency: true }, () => {
  for (const version of [5, 4] as ProtocolVersion[]) {
    const v = version === 5 ? '5.0' : '3.1.1';

    test(`[MQTT-4.7.3-4] ${v}: matching does no normalization: case, empty levels, trailing slash and Unicode forms differ`, async (t) => {
      const bench = await Bench.open(t);
      const sub = await bench.connected('sub', version);
      await sub.subscribe('a/b', 0);
      await sub.subscribe('caf\u00e9', 0);
      const pub = await bench.connected('pub', version);
      for (const topic of ['A/b', 'a//b', 'a/b/', '/a/b', 'a/ b', 'cafe\u0301', 'a/b', 'caf\u00e9']) {
        pub.publish({ topic, payload: Buffer.from(topic) });
      }
      assert.equal((await sub.expect('publish')).topic, 'a/b');
      assert.equal((await sub.expect('publish')).topic, 'caf\u00e9');
      await sub.expectNothing();
    });

    test(`${version === 5 ? '[MQTT-1.5.4-3]' : '[MQTT-1.5.3-3]'} ${v}: a U+FEFF at the start of a topic is neither skipped nor stripped`, async (t) => {
      const bench = await Bench.open(t);
      const plain = await bench.connected('plain', version);
      await plain.subscribe('bom', 0);
      const marked = await bench.connected('marked', version);
      await marked.subscribe('\ufeffbom', 0);
      const pub = await bench.connected('pub', version);
      pub.publish({ topic: '\ufeffbom', payload: Buffer.from('x') });
      const m = await marked.expect('publish');
      assert.equal(m.topic, '\ufeffbom');
      await plain.expectNothing();
    });

    test(`${version === 5 ? '[MQTT-4.7.1-1] [MQTT-4.7.1-2]' : '[MQTT-4.7.1-2] [MQTT-4.7.1-3]'} ${v}: misplaced wildcards in a filter are refused per filter (0x8F / 0x80)`, async (t) => {
      const bench = await Bench.open(t);
      const sub = await bench.connected('sub', version);
      const filters = ['a/#/b', 'a#', 'a/b#', 'a+', 'a/+b', '#/a', '+', '#', 'a/+/#'];
      sub.send({
        type: 'subscribe',
        packetId: 2,
        subscriptions: filters.map((topicFilter) => ({ topicFilter, qos: 0 })),
      });
      const bad = version === 5 ? ReasonCode.TopicFilterInvalid : 0x80;
      assert.deepEqual((await sub.expect('suback')).reasonCodes, [bad, bad, bad, bad, bad, bad, 0, 0, 0]);
    });

    test(`${version === 5 ? '[MQTT-4.7.1-1] [MQTT-4.7.1-2]' : '[MQTT-4.7.1-2] [MQTT-4.7.1-3]'} ${v}: + matches exactly one level (an empty one too), # the parent and any depth`, async (t) => {
      const bench = await Bench.open(t);
      const plus = await bench.connected('plus', version);
      await plus.subscribe('p/+/x', 0);
      const hash = await bench.connected('hash', version);
      await hash.subscribe('h/#', 0);
      const pub = await bench.connected('pub', version);
      for (const topic of ['p/1/x', 'p//x', 'p/x', 'p/1/2/x', 'h', 'h/', 'h/1/2/3', 'hh/1']) {
        pub.publish({ topic, payload: Buffer.from(topic) });
      }
      assert.deepEqual([(await plus.expect('publish')).topic, (await plus.expect('publish')).topic], ['p/1/x', 'p//x']);
      await plus.expectNothing();
      const got = [];
      for (let i = 0; i < 3; i++) got.push((await hash.expect('publish')).topic);
      assert.deepEqual(got, ['h', 'h/', 'h/1/2/3']);
      await hash.expectNothing();
    });
  }

  test('[MQTT-4.7.3-1] 5.0: an empty topic filter is refused: SUBACK 0x8F or DISCONNECT 0x81/0x82', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    sub.sendRaw([0x82, 0x06, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00]);
    const answer = await sub.next();
    if (answer.type === 'suback') assert.deepEqual(answer.reasonCodes, [ReasonCode.TopicFilterInvalid]);
    else {
      assert.equal(answer.type, 'disconnect');
      assert.ok(answer.type === 'disconnect' && [0x81, 0x82].includes(answer.reasonCode ?? 0));
    }
  });

  test('[MQTT-3.3.2-14] 5.0: a PUBLISH whose Response Topic has a wildcard is refused (DISCONNECT 0x81/0x82), not forwarded', async (t) => {
    const bench = await Bench.open(t);
    const sub = await bench.connected('sub');
    await sub.subscribe('rt/#', 0);
    const pub = await bench.connected('pub');
    pub.publish({ topic: 'rt/ok', payload: Buffer.from('x'), properties: { responseTopic: 'reply/me' } });
    assert.equal((await sub.expect('publish')).properties?.responseTopic, 'reply/me');
    // Response Topic "r/+": built by hand, our encoder refuses it.
    pub.sendRaw([0x30, 0x0c, 0x00, 0x02, 0x72, 0x74, 0x06, 0x08, 0x00, 0x03, 0x72, 0x2f, 0x2b, 0x78]);
    const answer = await pub.expect('disconnect');
    assert.ok([0x81, 0x82].includes(answer.reasonCode ?? 0), `DISCONNECT 0x${(answer.reasonCode ?? 0).toString(16)}`);
    await sub.expectNothing();
  });
});
