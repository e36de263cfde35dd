import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { budget, ChildBroker, endClient, mqttjs, SOAK, TcpPeer, waitUntil } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('one client floods QoS 1 while a pair converses: every acknowledged message is delivered, none lost', {
  timeout: budget(30_000),
}, async (t) => {
  const broker = await ChildBroker.start();
  cleanups.push(() => broker.stop());
  const FLOOD = 20_000 * SOAK;
  const TALK = 300 * SOAK;

  // The flood's subscriber acknowledges everything and records each sequence number it sees.
  const floodSeen = new Uint8Array(FLOOD);
  let floodDistinct = 0;
  const floodSub = new TcpPeer(broker.port, 5, { keepReceived: false });
  cleanups.push(() => floodSub.destroy());
  floodSub.onPacket = (packet) => {
    if (packet.type !== 'publish') return;
    if (packet.qos === 1) floodSub.send({ type: 'puback', packetId: packet.packetId! });
    const seq = packet.payload.readUInt32BE(0);
    if (floodSeen[seq]++ === 0) floodDistinct++;
  };
  await floodSub.connect({ clientId: 'flood-sub' });
  await floodSub.subscribe('flood/#', 1);

  // The pair: ping asks, pong answers each question on another topic; both at QoS 1.
  const ping = await mqttjs(broker.port, { clientId: 'ping' });
  cleanups.push(() => endClient(ping));
  const pong = await mqttjs(broker.port, { clientId: 'pong', protocolVersion: 4 });
  cleanups.push(() => endClient(pong));
  const questions = new Set<number>();
  const answers = new Set<number>();
  pong.on('message', (_topic, message) => {
    const n = message.readUInt32BE(0);
    questions.add(n);
    pong.publishAsync('pair/answer', message, { qos: 1 }).catch(() => undefined);
  });
  ping.on('message', (_topic, message) => {
    answers.add(message.readUInt32BE(0));
  });
  await pong.subscribeAsync('pair/question', { qos: 1 });
  await ping.subscribeAsync('pair/answer', { qos: 1 });

  // The flooder: every publish is issued at once; mqtt.js sends them as fast as the socket takes them.
  const flooder = await mqttjs(broker.port, { clientId: 'flooder' });
  cleanups.push(() => endClient(flooder));
  let acknowledged = 0;
  const acked = new Uint8Array(FLOOD);
  const payload = Buffer.alloc(64, 0x66);
  const floodDone = (async () => {
    const sends: Promise<unknown>[] = [];
    for (let seq = 0; seq < FLOOD; seq++) {
      const bytes = Buffer.from(payload);
      bytes.writeUInt32BE(seq, 0);
      sends.push(
        flooder.publishAsync(`flood/${seq % 16}`, bytes, { qos: 1 }).then(() => {
          acked[seq] = 1;
          acknowledged++;
        }),
      );
    }
    await Promise.all(sends);
  })();

  // Meanwhile the pair talks, one question at a time, each awaited (PUBACK) before the next.
  const talk = (async () => {
    for (let n = 0; n < TALK; n++) {
      const bytes = Buffer.alloc(4);
      bytes.writeUInt32BE(n, 0);
      await ping.publishAsync('pair/question', bytes, { qos: 1 });
    }
  })();

  const started = Date.now();
  const floodMs = floodDone.then(() => Date.now() - started);
  const talkMs = talk.then(() => Date.now() - started);
  await Promise.all([floodDone, talk]);
  await waitUntil(() => answers.size >= TALK, `${TALK} answers (have ${answers.size})`, budget(15_000));
  await waitUntil(() => floodDistinct >= FLOOD, `${FLOOD} flood messages (have ${floodDistinct})`, budget(15_000));
  t.diagnostic(
    `flood of ${FLOOD} QoS 1 messages acknowledged in ${await floodMs} ms; ${TALK} question/answer pairs ` +
      `alongside took ${await talkMs} ms`,
  );

  assert.equal(acknowledged, FLOOD, 'every flood message was acknowledged');
  for (let seq = 0; seq < FLOOD; seq++) {
    if (acked[seq] && floodSeen[seq] === 0) assert.fail(`acknowledged flood message ${seq} was never delivered`);
  }
  assert.equal(questions.size, TALK);
  assert.equal(answers.size, TALK);
  const stats = await broker.stats();
  assert.equal(stats.stats.droppedMessages, 0);
  assert.deepEqual(stats.errorLogs, []);
});
