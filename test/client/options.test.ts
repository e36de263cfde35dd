import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseUrl } from '../../src/client/options.js';
import { MqttError } from '../../src/protocol/errors.js';

test('broker URLs: schemes, default ports, WebSocket path and credentials', () => {
  assert.deepEqual(
    [
      parseUrl('mqtt://example.com'),
      parseUrl('mqtts://example.com'),
      parseUrl('ws://example.com'),
      parseUrl('wss://example.com:9001/custom'),
    ].map((t) => [t.protocol, t.host, t.port, t.path]),
    [
      ['mqtt', 'example.com', 1883, '/mqtt'],
      ['mqtts', 'example.com', 8883, '/mqtt'],
      ['ws', 'example.com', 80, '/mqtt'],
      ['wss', 'example.com', 9001, '/custom'],
    ],
  );
  const withUser = parseUrl('mqtt://al%40ice:s%3Acret@127.0.0.1:1884');
  assert.equal(withUser.username, 'al@ice');
  assert.equal(withUser.password, 's:cret');
  assert.equal(withUser.port, 1884);
  assert.equal(parseUrl('mqtt://[::1]:1883').host, '::1');
  assert.equal(parseUrl('ws://h', { wsPath: '/ws' }).path, '/ws');
  assert.equal(parseUrl('tcp://h').protocol, 'mqtt');
});

test('unknown schemes and malformed URLs are refused with an MqttError', () => {
  assert.throws(() => parseUrl('http://example.com'), MqttError);
  assert.throws(() => parseUrl('not a url'), MqttError);
});
