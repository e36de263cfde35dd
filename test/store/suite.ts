import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { InflightRecord, QueuedMessage, SessionRecord, Store } from '../../src/store/types.js';

/**
 * The one suite every Store implementation passes (STYLE.md 7). `create` returns a fresh, opened-or-not store
 * (the suite calls open()); `reopen`, when given, closes and reopens the same data to check durability.
 */
export function storeSuite(
  name: string,
  create: () => Promise<Store>,
  cleanup?: (store: Store) => Promise<void>,
  reopen?: (store: Store) => Promise<Store>,
): void {
  describe(`store: ${name}`, () => {
    async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
      const store = await create();
      await store.open();
      try {
        await fn(store);
      } finally {
        await store.close();
        if (cleanup) await cleanup(store);
      }
    }

    const session: SessionRecord = {
      clientId: 'c1',
      protocolVersion: 5,
      expiryInterval: 300,
      expiresAt: 1_700_000_300_000,
      username: 'alice',
      will: {
        topic: 'w/t',
        payload: Buffer.from('gone'),
        qos: 1,
        retain: true,
        properties: { contentType: 'text/plain', userProperties: [['k', 'v']] },
        delayInterval: 30,
        expiresAt: 1_700_000_400_000,
      },
      willAt: 1_700_000_030_000,
    };

    function queued(seq: number, topic = 'a/b'): QueuedMessage {
      return { seq, topic, payload: Buffer.from(`m${seq}`), qos: 1, retain: false };
    }

    test('a session record round-trips with its will and absolute deadlines', async () => {
      await withStore(async (store) => {
        store.putSession(session);
        await store.commit();
        assert.deepEqual(await store.getSession('c1'), session);
        assert.deepEqual(await store.loadSessions(), [session]);
        assert.equal(await store.getSession('nobody'), undefined);
      });
    });

    test('putSession replaces the record', async () => {
      await withStore(async (store) => {
        store.putSession(session);
        store.putSession({ clientId: 'c1', protocolVersion: 4, expiryInterval: 0xffffffff });
        await store.commit();
        assert.deepEqual(await store.getSession('c1'), {
          clientId: 'c1',
          protocolVersion: 4,
          expiryInterval: 0xffffffff,
        });
        assert.equal((await store.loadSessions()).length, 1);
      });
    });

    test('subscriptions are kept per session and replaced by filter', async () => {
      await withStore(async (store) => {
        store.putSession(session);
        store.putSubscription('c1', {
          topicFilter: 'a/+',
          qos: 1,
          noLocal: false,
          retainAsPublished: false,
          retainHandling: 0,
        });
        store.putSubscription('c1', {
          topicFilter: '$share/g/x/#',
          qos: 2,
          noLocal: true,
          retainAsPublished: true,
          retainHandling: 2,
          subscriptionIdentifier: 268_435_455,
        });
        store.putSubscription('c1', {
          topicFilter: 'a/+',
          qos: 0,
          noLocal: false,
          retainAsPublished: false,
          retainHandling: 1,
        });
        store.putSubscription('c2', {
          topicFilter: 'other',
          qos: 0,
          noLocal: false,
          retainAsPublished: false,
          retainHandling: 0,
        });
        await store.commit();
        const subs = (await store.getSubscriptions('c1')).sort((a, b) => a.topicFilter.localeCompare(b.topicFilter));
        assert.deepEqual(subs, [
          {
            topicFilter: '$share/g/x/#',
            qos: 2,
            noLocal: true,
            retainAsPublished: true,
            retainHandling: 2,
            subscriptionIdentifier: 268_435_455,
          },
          { topicFilter: 'a/+', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 1 },
        ]);
        store.deleteSubscription('c1', 'a/+');
        store.deleteSubscription('c1', 'never/subscribed');
        await store.commit();
        assert.deepEqual(
          (await store.getSubscriptions('c1')).map((s) => s.topicFilter),
          ['$share/g/x/#'],
        );
        assert.equal((await store.getSubscriptions('c2')).length, 1);
      });
    });

    test('the queue is read in seq order from a position, with a limit', async () => {
      await withStore(async (store) => {
        store.putSession(session);
        for (let seq = 1; seq <= 10; seq++) store.enqueue('c1', queued(seq));
        store.enqueue('c2', queued(5, 'elsewhere'));
        await store.commit();
        const first = await store.readQueue('c1', 0, 4);
        assert.deepEqual(
          first.map((m) => m.seq),
          [1, 2, 3, 4],
        );
        assert.deepEqual(first[0], queued(1));
        const rest = await store.readQueue('c1', 5, 100);
        assert.deepEqual(
          rest.map((m) => m.seq),
          [5, 6, 7, 8, 9, 10],
        );
        store.dequeue('c1', 1);
        store.dequeue('c1', 6);
        await store.commit();
        assert.deepEqual(
          (await store.readQueue('c1', 0, 100)).map((m) => m.seq),
          [2, 3, 4, 5, 7, 8, 9, 10],
        );
        assert.deepEqual(
          (await store.readQueue('c2', 0, 100)).map((m) => m.topic),
          ['elsewhere'],
        );
        assert.deepEqual(await store.readQueue('nobody', 0, 100), []);
      });
    });

    test("lastQueuedSeq gives the highest seq of a client's queue, 0 when it has none", async () => {
      await withStore(async (store) => {
        store.putSession(session);
        for (const seq of [5, 9_000_000_000_001, 7]) store.enqueue('c1', queued(seq));
        store.enqueue('c2', queued(9_000_000_000_005, 'elsewhere'));
        await store.commit();
        assert.equal(await store.lastQueuedSeq('c1'), 9_000_000_000_001);
        assert.equal(await store.lastQueuedSeq('c2'), 9_000_000_000_005);
        assert.equal(await store.lastQueuedSeq('nobody'), 0);
        store.dequeue('c1', 9_000_000_000_001);
        await store.commit();
        assert.equal(await store.lastQueuedSeq('c1'), 7);
        store.dequeue('c1', 5);
        store.dequeue('c1', 7);
        await store.commit();
        assert.equal(await store.lastQueuedSeq('c1'), 0);
      });
    });

    test('queued messages keep properties, expiry and subscription identifiers', async () => {
      await withStore(async (store) => {
        const message: QueuedMessage = {
          seq: 42,
          topic: 't',
          payload: Buffer.from([0, 1, 2, 255]),
          qos: 2,
          retain: true,
          expiresAt: 1_800_000_000_000,
          subscriptionIdentifiers: [1, 7],
          properties: {
            payloadFormatIndicator: 1,
            contentType: 'application/json',
            responseTopic: 'reply/here',
            correlationData: Buffer.from('corr'),
            userProperties: [
              ['a', '1'],
              ['a', '2'],
            ],
          },
        };
        store.enqueue('c1', message);
        await store.commit();
        assert.deepEqual(await store.readQueue('c1', 0, 1), [message]);
      });
    });

    test('in-flight records are replaced on a state change and read in send order', async () => {
      await withStore(async (store) => {
        const a: InflightRecord = {
          packetId: 65535,
          seq: 1,
          state: 'awaitPubrec',
          qos: 2,
          retain: false,
          message: { topic: 'x', payload: Buffer.from('1'), qos: 2, retain: false },
        };
        const b: InflightRecord = {
          packetId: 1,
          seq: 2,
          state: 'awaitPuback',
          qos: 1,
          retain: false,
          message: { topic: 'y', payload: Buffer.from('2'), qos: 1, retain: false },
          subscriptionIdentifiers: [3],
        };
        store.putInflight('c1', a);
        store.putInflight('c1', b);
        await store.commit();
        assert.deepEqual(await store.getInflight('c1'), [a, b]);
        store.putInflight('c1', { packetId: 65535, seq: 1, state: 'awaitPubcomp', qos: 2, retain: false });
        await store.commit();
        assert.deepEqual(await store.getInflight('c1'), [
          { packetId: 65535, seq: 1, state: 'awaitPubcomp', qos: 2, retain: false },
          b,
        ]);
        store.deleteInflight('c1', 65535);
        await store.commit();
        assert.deepEqual(await store.getInflight('c1'), [b]);
      });
    });

    test('inbound QoS 2 packet identifiers are remembered until released', async () => {
      await withStore(async (store) => {
        store.putIncomingQos2('c1', 7);
        store.putIncomingQos2('c1', 9);
        store.putIncomingQos2('c1', 7);
        await store.commit();
        assert.deepEqual(
          (await store.getIncomingQos2('c1')).sort((a, b) => a - b),
          [7, 9],
        );
        store.deleteIncomingQos2('c1', 7);
        await store.commit();
        assert.deepEqual(await store.getIncomingQos2('c1'), [9]);
      });
    });

    test('deleteSession removes the session with its subscriptions, queue, in-flight and QoS 2 ids', async () => {
      await withStore(async (store) => {
        store.putSession(session);
        store.putSubscription('c1', {
          topicFilter: 'a',
          qos: 1,
          noLocal: false,
          retainAsPublished: false,
          retainHandling: 0,
        });
        store.enqueue('c1', queued(1));
        store.putInflight('c1', { packetId: 1, seq: 1, state: 'awaitPubcomp', qos: 2, retain: false });
        store.putIncomingQos2('c1', 3);
        store.putSession({ clientId: 'c2', protocolVersion: 4, expiryInterval: 0xffffffff });
        store.deleteSession('c1');
        await store.commit();
        assert.equal(await store.getSession('c1'), undefined);
        assert.deepEqual(await store.getSubscriptions('c1'), []);
        assert.deepEqual(await store.readQueue('c1', 0, 10), []);
        assert.deepEqual(await store.getInflight('c1'), []);
        assert.deepEqual(await store.getIncomingQos2('c1'), []);
        assert.deepEqual(
          (await store.loadSessions()).map((s) => s.clientId),
          ['c2'],
        );
      });
    });

    test('retained messages are set, replaced and deleted by topic', async () => {
      await withStore(async (store) => {
        store.putRetained({ topic: 'r/1', payload: Buffer.from('a'), qos: 1, retain: true });
        store.putRetained({
          topic: 'r/2',
          payload: Buffer.from('b'),
          qos: 0,
          retain: true,
          expiresAt: 1_900_000_000_000,
        });
        store.putRetained({
          topic: 'r/1',
          payload: Buffer.from('c'),
          qos: 2,
          retain: true,
          properties: { contentType: 'x' },
        });
        await store.commit();
        const all = (await store.loadRetained()).sort((a, b) => a.topic.localeCompare(b.topic));
        assert.deepEqual(all, [
          { topic: 'r/1', payload: Buffer.from('c'), qos: 2, retain: true, properties: { contentType: 'x' } },
          { topic: 'r/2', payload: Buffer.from('b'), qos: 0, retain: true, expiresAt: 1_900_000_000_000 },
        ]);
        store.deleteRetained('r/1');
        store.deleteRetained('not/there');
        await store.commit();
        assert.deepEqual(
          (await store.loadRetained()).map((m) => m.topic),
          ['r/2'],
        );
      });
    });

    test('many writes are committed together by one commit()', async () => {
      await withStore(async (store) => {
        for (let i = 0; i < 500; i++) store.enqueue(`s${i % 5}`, queued(i));
        const commits = [store.commit(), store.commit()];
        await Promise.all(commits);
        let total = 0;
        for (let s = 0; s < 5; s++) total += (await store.readQueue(`s${s}`, 0, 1000)).length;
        assert.equal(total, 500);
      });
    });

    if (reopen) {
      test('committed state survives close and reopen', async () => {
        let store = await create();
        await store.open();
        try {
          store.putSession(session);
          store.putSubscription('c1', {
            topicFilter: 'a',
            qos: 1,
            noLocal: false,
            retainAsPublished: false,
            retainHandling: 0,
          });
          store.enqueue('c1', queued(1));
          store.putInflight('c1', {
            packetId: 2,
            seq: 1,
            state: 'awaitPuback',
            qos: 1,
            retain: false,
            message: queued(0),
          });
          store.putIncomingQos2('c1', 3);
          store.putRetained({ topic: 'r', payload: Buffer.from('x'), qos: 0, retain: true });
          await store.commit();
          store = await reopen(store);
          assert.deepEqual(await store.getSession('c1'), session);
          assert.equal((await store.getSubscriptions('c1')).length, 1);
          assert.deepEqual(
            (await store.readQueue('c1', 0, 10)).map((m) => m.seq),
            [1],
          );
          assert.deepEqual(
            (await store.getInflight('c1')).map((r) => r.packetId),
            [2],
          );
          assert.deepEqual(await store.getIncomingQos2('c1'), [3]);
          assert.deepEqual(
            (await store.loadRetained()).map((m) => m.topic),
            ['r'],
          );
        } finally {
          await store.close();
          if (cleanup) await cleanup(store);
        }
      });
    }
  });
}
