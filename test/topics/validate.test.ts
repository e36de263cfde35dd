import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MqttError } from '../../src/protocol/errors.js';
import {
  isValidTopicFilter,
  isValidTopicName,
  validateTopicFilter,
  validateTopicName,
} from '../../src/topics/validate.js';

test('[MQTT-4.7.3-1] topic names and filters are at least one character long', () => {
  assert.equal(isValidTopicName(''), false);
  assert.equal(isValidTopicFilter(''), false);
  assert.equal(isValidTopicName('a'), true);
  assert.equal(isValidTopicFilter('a'), true);
});

test('[MQTT-4.7.1-1] topic names must not contain wildcard characters', () => {
  for (const t of ['+', '#', 'a/+', 'a/#', 'a+', 'a#b', '+/a', 'sport/tennis/#']) {
    assert.equal(isValidTopicName(t), false, t);
  }
  for (const t of ['a', '/', 'a/b', 'a//b', '/a', 'a/', '$SYS/broker', ' ', 'sport/tennis/player1']) {
    assert.equal(isValidTopicName(t), true, t);
  }
});

test('[MQTT-4.7.1-2] the multi-level wildcard is alone in its level and last', () => {
  for (const f of ['#', 'a/#', '/#', 'a//#', '+/#', 'sport/tennis/#']) {
    assert.equal(isValidTopicFilter(f), true, f);
  }
  for (const f of ['a#', '#a', 'a/#/b', '#/', '#/a', 'sport/tennis#', 'a/b#', '##']) {
    assert.equal(isValidTopicFilter(f), false, f);
  }
});

test('[MQTT-4.7.1-3] the single-level wildcard fills its whole level', () => {
  for (const f of ['+', '+/+', '/+', '+/', 'a/+/b', '+/tennis/#', 'sport/+/player1', '+/+/+']) {
    assert.equal(isValidTopicFilter(f), true, f);
  }
  for (const f of ['a+', '+a', 'a/b+/c', 'sport+', '++', 'a/++']) {
    assert.equal(isValidTopicFilter(f), false, f);
  }
});

test('[MQTT-4.7.3-2] topic names and filters must not contain U+0000', () => {
  assert.equal(isValidTopicName('a\u0000b'), false);
  assert.equal(isValidTopicFilter('a/\u0000'), false);
  assert.equal(isValidTopicName('a\u0001b'), true);
});

test('[MQTT-4.7.3-3] topic names and filters are at most 65535 UTF-8 bytes', () => {
  assert.equal(isValidTopicName('a'.repeat(65535)), true);
  assert.equal(isValidTopicName('a'.repeat(65536)), false);
  // 'é' is 2 bytes in UTF-8: 32768 of them make 65536 bytes though only 32768 UTF-16 units.
  assert.equal(isValidTopicName('é'.repeat(32767)), true);
  assert.equal(isValidTopicName('é'.repeat(32768)), false);
  assert.equal(isValidTopicFilter(`${'é'.repeat(32767)}/#`), false);
  assert.equal(isValidTopicFilter(`${'é'.repeat(32766)}/#`), true);
});

test('validateTopicName throws MqttError 0x90 Topic Name invalid', () => {
  assert.throws(
    () => validateTopicName('a/+'),
    (err) => err instanceof MqttError && err.reasonCode === 0x90,
  );
  validateTopicName('a/b');
});

test('validateTopicFilter throws MqttError 0x8F Topic Filter invalid', () => {
  assert.throws(
    () => validateTopicFilter('a/#/b'),
    (err) => err instanceof MqttError && err.reasonCode === 0x8f,
  );
  validateTopicFilter('a/+/#');
});
