import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PacketIdAllocator } from '../../src/client/packet-ids.js';
import { MqttError } from '../../src/protocol/errors.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';

test('[MQTT-2.2.1-3] packet identifiers are non-zero and unique while in use', () => {
  const ids = new PacketIdAllocator();
  assert.deepEqual([ids.allocate(), ids.allocate(), ids.allocate()], [1, 2, 3]);
  ids.release(2);
  // A released id is not reused at once: the walk goes on.
  assert.equal(ids.allocate(), 4);
  assert.equal(ids.isInUse(2), false);
  assert.equal(ids.size, 3);
});

test('packet identifiers wrap after 65535 and skip ids still in use', () => {
  const ids = new PacketIdAllocator();
  for (let i = 1; i <= 65535; i++) assert.equal(ids.allocate(), i);
  assert.throws(
    () => ids.allocate(),
    (error: unknown) => error instanceof MqttError && error.reasonCode === ReasonCode.QuotaExceeded,
  );
  ids.release(7);
  ids.release(3);
  assert.equal(ids.allocate(), 3);
  assert.equal(ids.allocate(), 7);
  ids.clear();
  assert.equal(ids.size, 0);
  const next = ids.allocate();
  assert.ok(next >= 1 && next <= 65535);
});
