import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { topicMatches } from '../../src/topics/match.js';
import { TopicTree } from '../../src/topics/tree.js';
import { topicFilter, topicName } from './arbitraries.js';

const sorted = (values: readonly string[]) => [...values].sort();

test('add, get, replace and remove (filter, key) entries', () => {
  const tree = new TopicTree<string>();
  assert.equal(tree.add('a/+', 'c1', 'v1'), true);
  assert.equal(tree.add('a/+', 'c2', 'v2'), true);
  assert.equal(tree.add('a/+', 'c1', 'v1b'), false);
  assert.equal(tree.size, 2);
  assert.equal(tree.get('a/+', 'c1'), 'v1b');
  assert.equal(tree.get('a/+', 'c3'), undefined);
  assert.equal(tree.get('a', 'c1'), undefined);
  assert.deepEqual(sorted(tree.match('a/b')), ['v1b', 'v2']);
  assert.equal(tree.remove('a/+', 'c1'), true);
  assert.equal(tree.remove('a/+', 'c1'), false);
  assert.equal(tree.remove('nothing/here', 'c1'), false);
  assert.deepEqual(tree.match('a/b'), ['v2']);
  assert.equal(tree.size, 1);
  assert.equal(tree.remove('a/+', 'c2'), true);
  assert.equal(tree.size, 0);
  assert.deepEqual(tree.match('a/b'), []);
  assert.deepEqual([...tree.entries()], []);
});

test('entries lists every (filter, key, value)', () => {
  const tree = new TopicTree<number>();
  const filters = ['#', 'a', 'a/+', 'a/+/#', '/', '+/+', 'a//b', '$SYS/#'];
  for (const [i, f] of filters.entries()) tree.add(f, `k${i}`, i);
  const listed = [...tree.entries()].sort((x, y) => x[2] - y[2]);
  assert.deepEqual(
    listed,
    filters.map((f, i) => [f, `k${i}`, i]),
  );
});

test('[MQTT-4.7.2-1] wildcard filters at the first level do not match $ topics in the tree', () => {
  const tree = new TopicTree<string>();
  tree.add('#', 'c', 'all');
  tree.add('+/broker/#', 'c', 'plus');
  tree.add('$SYS/#', 'c', 'sys');
  tree.add('$SYS/+/uptime', 'c', 'sys-plus');
  assert.deepEqual(sorted(tree.match('$SYS/broker/uptime')), ['sys', 'sys-plus']);
  assert.deepEqual(sorted(tree.match('x/broker/uptime')), ['all', 'plus']);
});

test('[MQTT-4.7.1-2] a/# matches the parent a in the tree', () => {
  const tree = new TopicTree<string>();
  tree.add('a/#', 'c', 'hash');
  tree.add('a/+/#', 'c', 'plus-hash');
  assert.deepEqual(tree.match('a'), ['hash']);
  assert.deepEqual(sorted(tree.match('a/b')), ['hash', 'plus-hash']);
});

test('TopicTree.match agrees with topicMatches on random filters and topics', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(topicFilter, { maxLength: 25 }),
      fc.array(topicName, { maxLength: 10 }),
      (filters, topics) => {
        const tree = new TopicTree<string>();
        for (const f of filters) tree.add(f, 'k', f);
        for (const topic of topics) {
          const expected = filters.filter((f) => topicMatches(f, topic)).sort();
          assert.deepEqual(sorted(tree.match(topic)), expected, topic);
        }
      },
    ),
    { numRuns: 1000 },
  );
});

test('TopicTree.match stays right through random adds and removes (cache invalidation)', () => {
  const op = fc.record({ add: fc.boolean(), filter: topicFilter, key: fc.constantFrom('k1', 'k2'), topic: topicName });
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const tree = new TopicTree<string>({ cacheSize: 8 });
      const model = new Map<string, string>(); // `${filter}\u0000${key}` -> value
      for (const { add, filter, key, topic } of ops) {
        const id = `${filter}\u0000${key}`;
        if (add) {
          assert.equal(tree.add(filter, key, id), !model.has(id));
          model.set(id, id);
        } else {
          assert.equal(tree.remove(filter, key), model.delete(id));
        }
        assert.equal(tree.size, model.size);
        const expected = [...model.keys()].filter((k) => topicMatches(k.split('\u0000')[0]!, topic)).sort();
        // Twice: once filling the cache, once from it.
        assert.deepEqual(sorted(tree.match(topic)), expected);
        assert.deepEqual(sorted(tree.match(topic)), expected);
      }
    }),
    { numRuns: 500 },
  );
});

test('match results are cached per topic and dropped when subscriptions change', () => {
  const tree = new TopicTree<string>();
  tree.add('a/#', 'c1', 'v1');
  assert.deepEqual(tree.match('a/b'), ['v1']);
  const first = tree.match('a/b'); // cached from the second match on
  assert.equal(tree.match('a/b'), first, 'a repeated topic returns the cached array');
  tree.add('a/b', 'c2', 'v2');
  const second = tree.match('a/b');
  assert.notEqual(second, first);
  assert.deepEqual(sorted(second), ['v1', 'v2']);
  tree.add('a/b', 'c2', 'v2-new'); // replacing a value also invalidates
  assert.deepEqual(sorted(tree.match('a/b')), ['v1', 'v2-new']);
  tree.remove('a/#', 'c1');
  assert.deepEqual(tree.match('a/b'), ['v2-new']);
});

test('the match cache is bounded', () => {
  const tree = new TopicTree<string>({ cacheSize: 100 });
  tree.add('#', 'c', 'v');
  for (let i = 0; i < 10_000; i++) assert.deepEqual(tree.match(`t/${i}`), ['v']);
  assert.equal(tree.cachedTopics, 0, 'topics seen once are not cached');
  for (let i = 0; i < 10_000; i++) assert.deepEqual(tree.match(`t/${i % 300}`), ['v']);
  assert.ok(tree.cachedTopics > 0 && tree.cachedTopics <= 200, `cached ${tree.cachedTopics}`);
  const noCache = new TopicTree<string>({ cacheSize: 0 });
  noCache.add('#', 'c', 'v');
  noCache.match('a');
  assert.equal(noCache.cachedTopics, 0);
});

test('removing the last entry prunes the branch', () => {
  const tree = new TopicTree<string>();
  tree.add('a/b/c/d', 'k', 'v');
  tree.add('a/+', 'k', 'w');
  tree.remove('a/b/c/d', 'k');
  assert.equal(tree.hasFilter('a/b/c/d'), false);
  assert.deepEqual([...tree.entries()], [['a/+', 'k', 'w']]);
  tree.remove('a/+', 'k');
  assert.deepEqual([...tree.entries()], []);
});
