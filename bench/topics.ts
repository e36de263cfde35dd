// Topic matching benchmark: Starling's TopicTree against qlobber (the matcher Aedes uses), same subscriptions,
// same topics.
//
//   node dist/bench/run.js topics [--quick]

import { createRequire } from 'node:module';
import { TopicTree } from '../src/topics/tree.js';

interface Matcher {
  add(filter: string, value: number): void;
  match(topic: string): unknown[];
}

export interface TopicsBenchOptions {
  quick?: boolean;
  out?: (line: string) => void;
}

const SUBSCRIPTIONS = 20_000;

/** Filters of a building-automation shape: per-building wildcards, per-floor '+', and many exact rooms. */
function filterFor(i: number): string {
  const building = i % 100;
  switch (i % 7) {
    case 0:
      return `building/${building}/#`;
    case 1:
      return `building/+/floor/${i % 10}/temperature`;
    case 2:
      return `+/${building}/floor/+/humidity`;
    default:
      return `building/${building}/floor/${i % 10}/room/${i}`;
  }
}

function measure(step: (i: number) => void, ms: number): number {
  const start = performance.now();
  const end = start + ms;
  let n = 0;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 256; i++) step(n + i);
    n += 256;
    now = performance.now();
  }
  return (n * 1000) / (now - start);
}

export async function runTopicsBench(options: TopicsBenchOptions = {}): Promise<void> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const round = options.quick ? 100 : 400;
  const require = createRequire(import.meta.url);
  const { Qlobber } = require('qlobber') as {
    Qlobber: new (options: object) => Matcher;
  };
  const qlobber = new Qlobber({ separator: '/', wildcard_one: '+', wildcard_some: '#', match_empty_levels: true });
  const tree = new TopicTree<number>();
  const uncached = new TopicTree<number>({ cacheSize: 0 });
  for (let i = 0; i < SUBSCRIPTIONS; i++) {
    const filter = filterFor(i);
    qlobber.add(filter, i);
    tree.add(filter, `client-${i}`, i);
    uncached.add(filter, `client-${i}`, i);
  }
  // 1,000 topics that repeat (a fleet reporting), and a stream where each topic is new. Topics are flat strings
  // decoded from bytes, as the decoder hands them to the broker (a template literal would be a rope that every
  // map lookup must flatten first).
  const decoded = (s: string) => Buffer.from(s).toString('latin1');
  const hot = Array.from({ length: 1000 }, (_, i) => decoded(`building/${i % 100}/floor/${i % 10}/room/${i * 7}`));
  const fresh = Array.from({ length: 200_000 }, (_, i) => decoded(`building/${i % 100}/floor/${i % 10}/room/${i}`));
  let sink = 0;
  if (tree.match(hot[3]!).length !== qlobber.match(hot[3]!).length) throw new Error('the matchers disagree');

  const rows: [string, number, number][] = [];
  const compare = (name: string, ours: (i: number) => void, theirs: (i: number) => void) => {
    measure(ours, round / 4);
    measure(theirs, round / 4);
    rows.push([name, measure(ours, round), measure(theirs, round)]);
  };
  compare(
    'match, 1,000 repeating topics',
    (i) => {
      sink += tree.match(hot[i % hot.length]!).length;
    },
    (i) => {
      sink += qlobber.match(hot[i % hot.length]!).length;
    },
  );
  compare(
    'match, every topic new',
    (i) => {
      sink += tree.match(fresh[i % fresh.length]!).length;
    },
    (i) => {
      sink += qlobber.match(fresh[i % fresh.length]!).length;
    },
  );
  compare(
    'match, cache off',
    (i) => {
      sink += uncached.match(hot[i % hot.length]!).length;
    },
    (i) => {
      sink += qlobber.match(hot[i % hot.length]!).length;
    },
  );

  out(`${SUBSCRIPTIONS.toLocaleString('en')} subscriptions; matches per second`);
  out('| case | Starling TopicTree | qlobber (Aedes) | ratio |');
  out('|---|---:|---:|---:|');
  for (const [name, a, b] of rows) {
    out(`| ${name} | ${(a / 1e3).toFixed(0)} k/s | ${(b / 1e3).toFixed(0)} k/s | ${(a / b).toFixed(2)}x |`);
  }
  if (sink === 42) out('');
}
