import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { open } from 'lmdb';
import { Broker } from '../../src/broker/broker.js';
import { MqttError } from '../../src/protocol/errors.js';
import { FORMAT_VERSION, LmdbStore } from '../../src/store/lmdb/index.js';
import type { QueuedMessage, Store } from '../../src/store/types.js';
import { connected, delay, RawClient } from '../broker/helpers.js';
import { storeSuite } from './suite.js';

const root = mkdtempSync(join(tmpdir(), 'starling-lmdb-test-'));
let counter = 0;
function freshDir(): string {
  return join(root, `d${counter++}`);
}
after(() => rmSync(root, { recursive: true, force: true }));

storeSuite(
  'lmdb',
  async () => new LmdbStore(freshDir()),
  async (store: Store) => rmSync((store as LmdbStore).dir, { recursive: true, force: true }),
  async (store: Store) => {
    await store.close();
    const reopened = new LmdbStore((store as LmdbStore).dir);
    await reopened.open();
    return reopened;
  },
);

// The same suite with writes applied on the calling thread (no writer thread).
storeSuite(
  'lmdb, writing on the calling thread',
  async () => new LmdbStore(freshDir(), { writerThread: false }),
  async (store: Store) => rmSync((store as LmdbStore).dir, { recursive: true, force: true }),
  async (store: Store) => {
    await store.close();
    const reopened = new LmdbStore((store as LmdbStore).dir, { writerThread: false });
    await reopened.open();
    return reopened;
  },
);

function queued(seq: number, payload: Buffer, topic = 'fan/out'): QueuedMessage {
  return { seq, topic, payload, qos: 1, retain: false };
}

/** Bytes of the data file, a proxy for what a batch wrote. */
function fileBytes(dir: string): number {
  return statSync(join(dir, 'data.mdb')).size;
}

describe('store: lmdb, beyond the shared suite', () => {
  test('a second store on the same data directory is refused while the first holds it', async () => {
    const dir = freshDir();
    const first = new LmdbStore(dir);
    await first.open();
    try {
      const second = new LmdbStore(dir);
      await assert.rejects(second.open(), (error: unknown) => {
        assert.ok(error instanceof MqttError);
        assert.match(error.message, /in use by process \d+/);
        return true;
      });
    } finally {
      await first.close();
    }
    // Released on close: the directory can be opened again.
    const third = new LmdbStore(dir);
    await third.open();
    await third.close();
  });

  test('a broker in another process holding the directory keeps it; once that process is killed its lock is stale', async () => {
    const dir = freshDir();
    const script = [
      'const { LmdbStore } = await import(process.argv[1]);',
      'const store = new LmdbStore(process.argv[2]);',
      'await store.open();',
      "process.stdout.write('open\\n');",
      'setInterval(() => {}, 1000);',
    ].join('\n');
    const module = new URL('../../src/store/lmdb/index.js', import.meta.url).href;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, module, dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('child did not open the store')), 10_000);
        child.stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('open')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.on('exit', () => reject(new Error('child exited')));
      });
      const store = new LmdbStore(dir);
      await assert.rejects(store.open(), new RegExp(`in use by process ${child.pid}`));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      assert.ok(existsSync(join(dir, 'starling.lock')), 'a killed process leaves its lock file');
      await store.open();
      store.putRetained({ topic: 'after/takeover', payload: Buffer.from('x'), qos: 0, retain: true });
      await store.commit();
      await store.close();
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('a data directory of an unknown format version stops the start and is left as it was', async () => {
    const dir = freshDir();
    const store = new LmdbStore(dir);
    await store.open();
    store.putRetained({ topic: 'keep/me', payload: Buffer.from('x'), qos: 0, retain: true });
    await store.commit();
    await store.close();
    const env = open({ path: dir });
    const meta = env.openDB('meta', {});
    await meta.put('format', FORMAT_VERSION + 1);
    await env.close();
    const before = readFileSync(join(dir, 'data.mdb'));
    const newer = new LmdbStore(dir);
    await assert.rejects(
      newer.open(),
      new RegExp(`format version ${FORMAT_VERSION + 1}.*reads version ${FORMAT_VERSION}.*written by a newer Starling`),
    );
    assert.deepEqual(readFileSync(join(dir, 'data.mdb')), before);
    assert.equal(existsSync(join(dir, 'starling.lock')), false, 'a failed open releases the lock');
  });

  test('an LMDB environment that is not Starling data is refused, not written into', async () => {
    const dir = freshDir();
    const env = open({ path: dir, maxDbs: 4 });
    const other = env.openDB('accounts', {});
    await other.put('alice', 100);
    await env.close();
    await assert.rejects(new LmdbStore(dir).open(), /not Starling's/);
    const check = open({ path: dir, maxDbs: 4 });
    assert.equal(check.openDB('accounts', {}).get('alice'), 100);
    await check.close();
  });

  for (const [name, damage, expected] of [
    [
      'overwritten with other bytes',
      (file: string) => writeFileSync(file, Buffer.alloc(64 * 1024, 0x5a)),
      /no LMDB signature/,
    ],
    ['emptied', (file: string) => writeFileSync(file, Buffer.alloc(0)), /shorter than its two meta pages/],
    [
      'truncated',
      (file: string) => truncateSync(file, Math.floor(statSync(file).size / 3)),
      /damaged \(reading it killed a checking process with SIG(BUS|SEGV)/,
    ],
  ] as const) {
    test(`a data file ${name} stops the start with a clear error and is kept for recovery`, async () => {
      const dir = freshDir();
      const store = new LmdbStore(dir);
      await store.open();
      const payload = Buffer.alloc(1000, 7);
      for (let seq = 1; seq <= 3000; seq++) store.enqueue(`c${seq % 20}`, queued(seq, payload));
      await store.commit();
      await store.close();
      const file = join(dir, 'data.mdb');
      damage(file);
      const before = readFileSync(file);
      const reopened = new LmdbStore(dir);
      await assert.rejects(reopened.open(), (error: unknown) => {
        assert.ok(error instanceof MqttError);
        assert.match(error.message, expected);
        assert.match(error.message, /will not empty it/);
        return true;
      });
      assert.deepEqual(readFileSync(file), before, 'the damaged file is left untouched');
    });
  }

  test('a message routed to many sessions in one batch is written once, and freed with its last reference', async () => {
    const sessions = 200;
    const payload = Buffer.alloc(4096, 1);
    async function grow(options: { shareThreshold?: number }): Promise<{ dir: string; bytes: number }> {
      const dir = freshDir();
      const store = new LmdbStore(dir, options);
      await store.open();
      const start = fileBytes(dir);
      for (let m = 1; m <= 5; m++) {
        for (let s = 0; s < sessions; s++) store.enqueue(`s${s}`, queued(m, payload));
        await store.commit();
      }
      const bytes = fileBytes(dir) - start;
      if (options.shareThreshold === undefined) {
        const first = await store.readQueue('s0', 0, 10);
        const last = await store.readQueue(`s${sessions - 1}`, 0, 10);
        assert.deepEqual(
          first.map((q) => q.seq),
          [1, 2, 3, 4, 5],
        );
        assert.deepEqual(last, first);
        assert.deepEqual(last[0], queued(1, payload));
        for (let s = 0; s < sessions; s++) for (let m = 1; m <= 5; m++) store.dequeue(`s${s}`, m);
        await store.commit();
        assert.deepEqual(await store.readQueue('s7', 0, 10), []);
        const inner = store as unknown as { dir: string };
        await store.close();
        const env = open({ path: inner.dir, maxDbs: 16 });
        assert.equal([...env.openDB('messages', {}).getKeys({})].length, 0, 'no body outlives its references');
        assert.equal([...env.openDB('refs', {}).getKeys({})].length, 0);
        await env.close();
      } else {
        await store.close();
      }
      return { dir, bytes };
    }
    const shared = await grow({});
    const inline = await grow({ shareThreshold: Number.POSITIVE_INFINITY });
    // 5 messages x 200 sessions x 4 KiB = 4 MB inline; shared they take a few pages plus the references.
    assert.ok(inline.bytes > 4_000_000, `inline wrote ${inline.bytes}`);
    assert.ok(shared.bytes * 5 < inline.bytes, `shared ${shared.bytes} bytes vs inline ${inline.bytes}`);
  });

  test('shared messages survive per-session removal, in-flight moves and deleteSession, and are restored by reopen', async () => {
    const dir = freshDir();
    let store = new LmdbStore(dir, { shareThreshold: 1 });
    await store.open();
    const payload = Buffer.from('shared body');
    const properties = { contentType: 'text/plain', userProperties: [['k', 'v']] as [string, string][] };
    for (const id of ['a', 'b', 'c']) {
      store.enqueue(id, {
        seq: 1,
        topic: 't',
        payload,
        qos: 1,
        retain: false,
        properties,
        expiresAt: 2_000_000_000_000,
      });
    }
    await store.commit();
    // b takes it in flight (dequeue + putInflight in one batch), c's session is deleted.
    store.dequeue('b', 1);
    store.putInflight('b', {
      packetId: 9,
      seq: 1,
      state: 'awaitPubrec',
      qos: 2,
      retain: false,
      message: { topic: 't', payload, qos: 2, retain: true, properties, expiresAt: 2_000_000_000_000 },
    });
    store.putInflight('a', {
      packetId: 3,
      seq: 1,
      state: 'awaitPubrec',
      qos: 2,
      retain: false,
      message: { topic: 't', payload, qos: 2, retain: true, properties, expiresAt: 2_000_000_000_000 },
    });
    store.deleteSession('c');
    await store.commit();
    await store.close();
    store = new LmdbStore(dir, { shareThreshold: 1 });
    await store.open();
    const expected = { topic: 't', payload, qos: 2, retain: true, properties, expiresAt: 2_000_000_000_000 };
    assert.deepEqual((await store.getInflight('b'))[0]?.message, expected);
    assert.deepEqual((await store.readQueue('a', 0, 5))[0]?.properties, properties);
    assert.deepEqual(await store.readQueue('c', 0, 5), []);
    // PUBREC: the record loses its message; a's queue entry and in-flight copy still hold the body.
    store.putInflight('b', { packetId: 9, seq: 1, state: 'awaitPubcomp', qos: 2, retain: false });
    store.deleteInflight('a', 3);
    await store.commit();
    assert.equal((await store.readQueue('a', 0, 5))[0]?.payload.toString(), 'shared body');
    store.dequeue('a', 1);
    await store.commit();
    await store.close();
    const env = open({ path: dir, maxDbs: 16 });
    assert.equal([...env.openDB('messages', {}).getKeys({})].length, 0);
    await env.close();
  });

  test('client ids, filters and topics too long for an LMDB key are stored by hash and read back whole', async () => {
    const dir = freshDir();
    const store = new LmdbStore(dir);
    await store.open();
    try {
      const clientId = `client-${'é'.repeat(5000)}`;
      const filter = `${'deep/'.repeat(3000)}#`;
      const topic = 'x'.repeat(60_000);
      store.putSession({ clientId, protocolVersion: 5, expiryInterval: 60 });
      store.putSubscription(clientId, {
        topicFilter: filter,
        qos: 1,
        noLocal: false,
        retainAsPublished: false,
        retainHandling: 0,
      });
      store.putSubscription(clientId, {
        topicFilter: 'short',
        qos: 1,
        noLocal: false,
        retainAsPublished: false,
        retainHandling: 0,
      });
      store.enqueue(clientId, queued(1, Buffer.from('p'), topic));
      store.putRetained({ topic, payload: Buffer.from('r'), qos: 0, retain: true });
      await store.commit();
      assert.equal((await store.getSession(clientId))?.clientId, clientId);
      assert.deepEqual(
        (await store.getSubscriptions(clientId)).map((s) => s.topicFilter).sort(),
        [filter, 'short'].sort(),
      );
      assert.equal((await store.readQueue(clientId, 0, 1))[0]?.topic, topic);
      assert.equal((await store.loadRetained())[0]?.topic, topic);
      store.deleteSubscription(clientId, filter);
      store.deleteRetained(topic);
      await store.commit();
      assert.equal((await store.getSubscriptions(clientId)).length, 1);
      assert.equal((await store.loadRetained()).length, 0);
    } finally {
      await store.close();
    }
  });

  test('a row written and removed or replaced within one batch ends as the last write says', async () => {
    const dir = freshDir();
    const store = new LmdbStore(dir, { shareThreshold: 1 });
    await store.open();
    try {
      const payload = Buffer.from('moot');
      // Committed first: a later batch's cancelled put must not hide the delete of this older row.
      store.putInflight('x', { packetId: 1, seq: 1, state: 'awaitPuback', qos: 1, retain: false });
      store.enqueue('x', queued(1, payload));
      await store.commit();
      store.putInflight('x', {
        packetId: 1,
        seq: 2,
        state: 'awaitPuback',
        qos: 1,
        retain: false,
        message: { topic: 't', payload, qos: 1, retain: false },
      });
      store.putInflight('y', {
        packetId: 1,
        seq: 2,
        state: 'awaitPuback',
        qos: 1,
        retain: false,
        message: { topic: 't', payload, qos: 1, retain: false },
      });
      store.deleteInflight('x', 1);
      store.dequeue('x', 1);
      store.enqueue('x', queued(2, payload));
      store.dequeue('x', 2);
      store.putInflight('y', { packetId: 1, seq: 2, state: 'awaitPubcomp', qos: 2, retain: false });
      store.putInflight('y', { packetId: 2, seq: 3, state: 'awaitPubrec', qos: 2, retain: false });
      store.deleteInflight('y', 2);
      await store.commit();
      assert.deepEqual(await store.getInflight('x'), []);
      assert.deepEqual(await store.readQueue('x', 0, 10), []);
      assert.deepEqual(await store.getInflight('y'), [
        { packetId: 1, seq: 2, state: 'awaitPubcomp', qos: 2, retain: false },
      ]);
    } finally {
      await store.close();
    }
    const env = open({ path: dir, maxDbs: 16 });
    assert.equal([...env.openDB('messages', {}).getKeys({})].length, 0, 'no shared body is left behind');
    await env.close();
  });

  test('writes issued in one turn are committed together and read back before their commit is awaited', async () => {
    const dir = freshDir();
    const store = new LmdbStore(dir);
    await store.open();
    try {
      store.putSession({ clientId: 'r', protocolVersion: 4, expiryInterval: 10 });
      // A read sees the writes issued before it.
      assert.equal((await store.getSession('r'))?.expiryInterval, 10);
      const commits: Promise<void>[] = [];
      for (let i = 0; i < 100; i++) {
        store.enqueue('r', queued(i + 1, Buffer.from([i])));
        commits.push(store.commit());
      }
      assert.equal(new Set(commits).size, 1, 'one commit promise per batch');
      await Promise.all(commits);
      assert.equal((await store.readQueue('r', 50, 1000)).length, 51);
    } finally {
      await store.close();
    }
  });

  test('a broker restarted on the same data directory resumes a persistent session: queue, subscription, retained', async () => {
    const dir = freshDir();
    const persistent = { clean: false, properties: { sessionExpiryInterval: 3600 } };
    let broker = new Broker({ store: new LmdbStore(dir), sysIntervalSeconds: 0 });
    await broker.start();
    try {
      const subscriber = await connected(broker, 'resume-me', 5, persistent);
      await subscriber.subscribe('orders/#', 2);
      subscriber.destroy();
      await delay(10);
      await broker.publish({ topic: 'orders/1', payload: 'one', qos: 1 });
      await broker.publish({ topic: 'orders/2', payload: 'two', qos: 2 });
      await broker.publish({ topic: 'state', payload: 'kept', qos: 1, retain: true });
      await broker.close();
      broker = new Broker({ store: new LmdbStore(dir), sysIntervalSeconds: 0 });
      await broker.start();
      const back = new RawClient(broker, 5);
      const connack = await back.connect({ clientId: 'resume-me', ...persistent });
      assert.equal(connack.sessionPresent, true);
      const first = await back.expect('publish');
      const second = await back.expect('publish');
      assert.deepEqual(
        [first.topic, first.payload.toString(), first.qos, second.topic, second.payload.toString(), second.qos],
        ['orders/1', 'one', 1, 'orders/2', 'two', 2],
      );
      // The subscription came back with the session: a new message arrives without a new SUBSCRIBE.
      await broker.publish({ topic: 'orders/3', payload: 'three', qos: 1 });
      assert.equal((await back.expect('publish')).payload.toString(), 'three');
      const reader = await connected(broker, 'reader', 5);
      await reader.subscribe('state', 0);
      assert.equal((await reader.expect('publish')).payload.toString(), 'kept');
      back.destroy();
      reader.destroy();
    } finally {
      await broker.close();
    }
  });
});
