import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MqttError } from '../../src/protocol/errors.js';
import { parseSharedFilter } from '../../src/topics/share.js';

const invalidFilter = (err: unknown) => err instanceof MqttError && err.reasonCode === 0x8f;

test('filters not starting with $share/ are not shared subscriptions', () => {
  for (const f of ['a/b', '#', '$share', '$SHARE/g/a', '$sharex/g/a', 'x/$share/g/a']) {
    assert.equal(parseSharedFilter(f), undefined, f);
  }
});

test('[MQTT-4.8.2-1] $share/{ShareName}/{filter} is taken apart into group and filter', () => {
  assert.deepEqual(parseSharedFilter('$share/g1/sport/tennis/+'), { group: 'g1', filter: 'sport/tennis/+' });
  assert.deepEqual(parseSharedFilter('$share/consumer1/#'), { group: 'consumer1', filter: '#' });
  assert.deepEqual(parseSharedFilter('$share/g//a'), { group: 'g', filter: '/a' });
  assert.deepEqual(parseSharedFilter('$share/g/$SYS/#'), { group: 'g', filter: '$SYS/#' });
});

test('[MQTT-4.8.2-1] the ShareName is at least one character long', () => {
  assert.throws(() => parseSharedFilter('$share//a'), invalidFilter);
  assert.throws(() => parseSharedFilter('$share/'), invalidFilter);
});

test('[MQTT-4.8.2-2] the ShareName contains no + or # and is followed by / and a topic filter', () => {
  assert.throws(() => parseSharedFilter('$share/+/a'), invalidFilter);
  assert.throws(() => parseSharedFilter('$share/#/a'), invalidFilter);
  assert.throws(() => parseSharedFilter('$share/g+x/a'), invalidFilter);
  assert.throws(() => parseSharedFilter('$share/g'), invalidFilter);
  assert.throws(() => parseSharedFilter('$share/g/'), invalidFilter);
  assert.throws(() => parseSharedFilter('$share/g/a/#/b'), invalidFilter);
  assert.throws(() => parseSharedFilter('$share/g/a+'), invalidFilter);
});
