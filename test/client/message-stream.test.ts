import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageStream } from '../../src/client/message-stream.js';

test('a message stream hands items to a waiting reader in order', async () => {
  const stream = new MessageStream<number>(10, () => undefined);
  const first = stream.next();
  stream.push(1);
  stream.push(2);
  assert.deepEqual(await first, { value: 1, done: false });
  assert.deepEqual(await stream.next(), { value: 2, done: false });
});

test('a full message stream drops the oldest items and counts them', async () => {
  const stream = new MessageStream<number>(3, () => undefined);
  for (let i = 0; i < 10; i++) stream.push(i);
  assert.equal(stream.buffered, 3);
  assert.equal(stream.dropped, 7);
  stream.close();
  const seen: number[] = [];
  for await (const item of stream) seen.push(item);
  assert.deepEqual(seen, [7, 8, 9]);
});

test('breaking out of for-await unregisters the stream', async () => {
  let returned = 0;
  const stream = new MessageStream<number>(5, () => returned++);
  stream.push(1);
  stream.push(2);
  for await (const item of stream) {
    assert.equal(item, 1);
    break;
  }
  assert.equal(returned, 1);
  stream.push(3);
  assert.deepEqual(await stream.next(), { value: undefined, done: true });
});

test('a long-running stream does not keep consumed items', async () => {
  const stream = new MessageStream<number>(5000, () => undefined);
  for (let i = 0; i < 4000; i++) {
    stream.push(i);
    assert.equal((await stream.next()).value, i);
  }
  assert.equal(stream.buffered, 0);
});
