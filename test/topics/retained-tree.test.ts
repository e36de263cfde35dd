import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { topicMatches } from '../../src/topics/match.js';
import { RetainedTree } from '../../src/topics/retained-tree.js';
import { topicFilter, topicName } from './arbitraries.js';

const topicsOf = (it: Iterable<[string, unknown]>) => [...it].map(([t]) => t).sort();

test('set, get, replace and delete retained topics', () => {
  const tree = new RetainedTree<number>();
  tree.set('a/b', 1);
  tree.set('a', 2);
  tree.set('a/b', 3);
  assert.equal(tree.size, 2);
  assert.equal(tree.get('a/b'), 3);
  assert.equal(tree.get('a/c'), undefined);
  assert.equal(tree.delete('a/c'), false);
  assert.equal(tree.delete('a/b'), true);
  assert.equal(tree.delete('a/b'), false);
  assert.equal(tree.size, 1);
  assert.deepEqual([...tree.entries()], [['a', 2]]);
  assert.equal(tree.delete('a'), true);
  assert.deepEqual([...tree.entries()], []);
  assert.equal(tree.size, 0);
});

test('[MQTT-4.7.2-1] retained $ topics are not matched by filters starting with a wildcard', () => {
  const tree = new RetainedTree<string>();
  for (const t of ['$SYS/uptime', '$x', 'a', 'a/$b', '/']) tree.set(t, t);
  assert.deepEqual(topicsOf(tree.match('#')), ['/', 'a', 'a/$b']);
  assert.deepEqual(topicsOf(tree.match('+')), ['a']);
  assert.deepEqual(topicsOf(tree.match('+/+')), ['/', 'a/$b']);
  assert.deepEqual(topicsOf(tree.match('$SYS/#')), ['$SYS/uptime']);
  assert.deepEqual(topicsOf(tree.match('a/+')), ['a/$b']);
});

test('[MQTT-4.7.1-2] a/# matches the retained parent a', () => {
  const tree = new RetainedTree<string>();
  tree.set('a', 'p');
  tree.set('a/b/c', 'c');
  tree.set('ab', 'x');
  assert.deepEqual(topicsOf(tree.match('a/#')), ['a', 'a/b/c']);
});

test('RetainedTree.match agrees with topicMatches on random topics and filters', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(topicName, { maxLength: 30 }),
      fc.array(topicFilter, { maxLength: 10 }),
      (topics, filters) => {
        const tree = new RetainedTree<string>();
        for (const t of topics) tree.set(t, t);
        assert.equal(tree.size, topics.length);
        for (const filter of filters) {
          const expected = topics.filter((t) => topicMatches(filter, t)).sort();
          const got = [...tree.match(filter)];
          for (const [t, v] of got) assert.equal(v, t);
          assert.deepEqual(got.map(([t]) => t).sort(), expected, filter);
        }
      },
    ),
    { numRuns: 1000 },
  );
});

test('RetainedTree stays right through random sets and deletes', () => {
  const op = fc.record({ set: fc.boolean(), topic: topicName, filter: topicFilter });
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const tree = new RetainedTree<string>();
      const model = new Set<string>();
      for (const { set, topic, filter } of ops) {
        if (set) {
          tree.set(topic, topic);
          model.add(topic);
        } else {
          assert.equal(tree.delete(topic), model.delete(topic));
        }
        assert.equal(tree.size, model.size);
        assert.deepEqual(topicsOf(tree.match(filter)), [...model].filter((t) => topicMatches(filter, t)).sort());
      }
      assert.deepEqual(topicsOf(tree.entries()), [...model].sort());
    }),
    { numRuns: 500 },
  );
});

test('match walks only the branches the filter reaches', () => {
  const tree = new RetainedTree<number>();
  for (let i = 0; i < 1000; i++) tree.set(`big/${i}`, i);
  tree.set('small/x', -1);
  // A literal level skips the 1000 siblings under 'big'; the iterator is lazy.
  const it = tree.match('small/+')[Symbol.iterator]();
  assert.deepEqual(it.next().value, ['small/x', -1]);
  assert.equal(it.next().done, true);
});
