import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { open } from 'lmdb';
import { FORMAT_VERSION, LmdbStore } from '../../src/store/lmdb/index.js';
import type { InflightRecord } from '../../src/store/types.js';

const root = mkdtempSync(join(tmpdir(), 'starling-lmdb-rows-'));
let counter = 0;
function freshDir(): string {
  return join(root, `d${counter++}`);
}
after(() => rmSync(root, { recursive: true, force: true }));

function inflight(packetId: number, seq: number, text: string): InflightRecord {
  return {
    packetId,
    seq,
    state: 'awaitPuback',
    qos: 1,
    retain: false,
    message: { topic: `t/${text}`, payload: Buffer.from(text), qos: 1, retain: false },
  };
}

/** A small deterministic generator, so a failing sequence can be replayed from its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x100000000;
  };
}

describe('store: lmdb in-flight rows', () => {
  test('a row from before the store opened is removed by a put and delete of the same row in one batch', async () => {
    const dir = freshDir();
    let store = new LmdbStore(dir);
    await store.open();
    store.putInflight('old', inflight(5, 1, 'first'));
    await store.commit();
    await store.close();
    store = new LmdbStore(dir);
    await store.open();
    try {
      // The batch's own put of the row is cancelled by the delete; the older row must still go.
      store.putInflight('old', inflight(5, 2, 'second'));
      store.deleteInflight('old', 5);
      await store.commit();
      assert.deepEqual(await store.getInflight('old'), []);
    } finally {
      await store.close();
    }
    store = new LmdbStore(dir);
    await store.open();
    try {
      assert.deepEqual(await store.getInflight('old'), [], 'nothing comes back after a restart');
    } finally {
      await store.close();
    }
  });

  test('client ids and topics in any script come back as written, short and long', async () => {
    const dir = freshDir();
    const store = new LmdbStore(dir);
    await store.open();
    try {
      const names = ['plain', 'température/é', 'ab\u00ff', '数据/传感器/1', 'emoji/😀/x', `long/${'ü'.repeat(70)}`];
      for (const [i, name] of names.entries()) {
        const record = inflight(i + 1, i + 1, name);
        record.message!.topic = name;
        store.putInflight(name, record);
        store.enqueue(name, { seq: 1, topic: name, payload: Buffer.from(name), qos: 1, retain: false });
      }
      await store.commit();
      for (const [i, name] of names.entries()) {
        const [record] = await store.getInflight(name);
        assert.equal(record?.packetId, i + 1, name);
        assert.equal(record?.message?.topic, name);
        const [queued] = await store.readQueue(name, 0, 10);
        assert.equal(queued?.topic, name);
        assert.equal(queued?.payload.toString(), name);
      }
    } finally {
      await store.close();
    }
  });

  test('in-flight rows end as the writes say across batches, restarts, reads and session deletes (random sequences)', async () => {
    const clients = ['a', 'b'];
    const packetIds = [1, 2];
    for (let run = 0; run < 20; run++) {
      const seed = 1000 + run;
      const next = random(seed);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
      const dir = freshDir();
      let store = new LmdbStore(dir, { writerThread: run % 2 === 0 });
      await store.open();
      // What the database must hold once everything issued is committed: client -> packet id -> seq.
      const model = new Map<string, Map<number, number>>(clients.map((c) => [c, new Map()]));
      let seq = 0;
      try {
        for (let step = 0; step < 80; step++) {
          const roll = next();
          const clientId = pick(clients);
          const rows = model.get(clientId)!;
          if (roll < 0.4) {
            const packetId = pick(packetIds);
            seq++;
            store.putInflight(clientId, inflight(packetId, seq, `${seed}-${seq}`));
            rows.set(packetId, seq);
          } else if (roll < 0.72) {
            const packetId = pick(packetIds);
            store.deleteInflight(clientId, packetId);
            rows.delete(packetId);
          } else if (roll < 0.84) {
            await store.commit();
          } else if (roll < 0.9) {
            const read = await store.getInflight(clientId);
            assert.deepEqual(
              read.map((r) => [r.packetId, r.seq]),
              [...rows].sort((x, y) => x[1] - y[1]),
              `seed ${seed} step ${step}: read`,
            );
          } else if (roll < 0.94) {
            await store.close();
            store = new LmdbStore(dir, { writerThread: run % 2 === 0 });
            await store.open();
          } else {
            store.deleteSession(clientId);
            rows.clear();
          }
        }
        await store.commit();
        await store.close();
        store = new LmdbStore(dir);
        await store.open();
        for (const clientId of clients) {
          const read = await store.getInflight(clientId);
          assert.deepEqual(
            read.map((r) => [r.packetId, r.seq, r.message?.payload.toString()]),
            [...model.get(clientId)!].sort((x, y) => x[1] - y[1]).map(([p, s]) => [p, s, `${seed}-${s}`]),
            `seed ${seed}: after the last restart`,
          );
        }
      } finally {
        await store.close();
      }
    }
  });

  test(`a data directory of format version 1 is migrated to ${FORMAT_VERSION} on open, shared bodies included`, async () => {
    const dir = freshDir();
    const env = open({ path: dir, maxDbs: 16 });
    const properties = { contentType: 'text/plain', userProperties: [['k', 'v']] };
    await env.transaction(() => {
      env.openDB('meta', {}).put('format', 1);
      env.openDB('sessions', {}).put('c', { clientId: 'c', protocolVersion: 5, expiryInterval: 60 });
      env.openDB('messages', {}).put(7, { topic: 'shared/t', payload: Buffer.from('shared body') });
      env.openDB('refs', {}).put(7, 2);
      const queue = env.openDB('queue', {});
      queue.put(['c', 1], {
        topic: 'q/1',
        payload: Buffer.from('one'),
        qos: 1,
        retain: false,
        properties,
        expiresAt: 4_000_000_000_000,
        subscriptionIdentifiers: [3, 9],
      });
      queue.put(['c', 2], { m: 7, qos: 0, retain: true });
      const rows = env.openDB('inflight', {});
      rows.put(['c', 10], {
        seq: 4,
        state: 'awaitPubrec',
        qos: 2,
        retain: false,
        message: { topic: 'i/10', payload: Buffer.from('ten'), qos: 2, retain: true, properties },
      });
      rows.put(['c', 11], { seq: 5, state: 'awaitPuback', qos: 1, retain: false, m: 7, mq: 2, mr: false });
      rows.put(['c', 12], { seq: 6, state: 'awaitPubcomp', qos: 2, retain: false, subscriptionIdentifiers: [1] });
    });
    await env.close();

    const store = new LmdbStore(dir);
    await store.open();
    try {
      assert.deepEqual(await store.readQueue('c', 0, 10), [
        {
          seq: 1,
          topic: 'q/1',
          payload: Buffer.from('one'),
          qos: 1,
          retain: false,
          properties,
          expiresAt: 4_000_000_000_000,
          subscriptionIdentifiers: [3, 9],
        },
        { seq: 2, topic: 'shared/t', payload: Buffer.from('shared body'), qos: 0, retain: true },
      ]);
      assert.deepEqual(await store.getInflight('c'), [
        {
          packetId: 10,
          seq: 4,
          state: 'awaitPubrec',
          qos: 2,
          retain: false,
          message: { topic: 'i/10', payload: Buffer.from('ten'), qos: 2, retain: true, properties },
        },
        {
          packetId: 11,
          seq: 5,
          state: 'awaitPuback',
          qos: 1,
          retain: false,
          message: { topic: 'shared/t', payload: Buffer.from('shared body'), qos: 2, retain: false },
        },
        { packetId: 12, seq: 6, state: 'awaitPubcomp', qos: 2, retain: false, subscriptionIdentifiers: [1] },
      ]);
      // The reference counts came along: the body goes with its last reference.
      store.dequeue('c', 2);
      store.deleteInflight('c', 11);
      await store.commit();
    } finally {
      await store.close();
    }
    const check = open({ path: dir, maxDbs: 16 });
    try {
      assert.equal(check.openDB('meta', {}).get('format'), FORMAT_VERSION);
      assert.equal([...check.openDB('messages', {}).getKeys({})].length, 0, 'no body outlives its references');
      assert.equal([...check.openDB('refs', {}).getKeys({})].length, 0);
    } finally {
      await check.close();
    }
  });
});
