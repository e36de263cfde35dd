import assert from 'node:assert/strict';
import { test } from 'node:test';
import { topicMatches } from '../../src/topics/match.js';

// [filter, topic, matches]
const table: [string, string, boolean][] = [
  // Section 4.7.1.2: multi-level wildcard.
  ['sport/tennis/player1/#', 'sport/tennis/player1', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
  ['sport/#', 'sport', true],
  ['#', 'sport/tennis', true],
  ['#', '/', true],
  ['a/#', 'a/', true],
  ['a/#', 'ab', false],
  ['a/#', 'b/a', false],
  // Section 4.7.1.3: single-level wildcard.
  ['sport/tennis/+', 'sport/tennis/player1', true],
  ['sport/tennis/+', 'sport/tennis/player2', true],
  ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
  ['sport/+', 'sport', false],
  ['sport/+', 'sport/', true],
  ['+/+', '/finance', true],
  ['/+', '/finance', true],
  ['+', '/finance', false],
  ['+', 'a', true],
  ['+/+', '/', true],
  ['+/#', 'a', true],
  ['a/+/#', 'a/b', true],
  // Exact levels, including empty ones.
  ['a//b', 'a//b', true],
  ['a//b', 'a/b', false],
  ['a/+/b', 'a//b', true],
  ['a/', 'a', false],
  ['a', 'a/', false],
  ['a', 'ab', false],
  ['ab', 'a', false],
  ['/', '/', true],
  ['ACCOUNTS', 'Accounts', false],
];

test('[MQTT-4.7.1-2] [MQTT-4.7.1-3] wildcard matching follows the examples of section 4.7', () => {
  for (const [filter, topic, expected] of table) {
    assert.equal(topicMatches(filter, topic), expected, `${filter} ~ ${topic}`);
  }
});

test('[MQTT-4.7.2-1] filters starting with a wildcard do not match topics starting with $', () => {
  assert.equal(topicMatches('#', '$SYS/broker/uptime'), false);
  assert.equal(topicMatches('+/monitor/Clients', '$SYS/monitor/Clients'), false);
  assert.equal(topicMatches('+', '$x'), false);
  assert.equal(topicMatches('$SYS/#', '$SYS/monitor/Clients'), true);
  assert.equal(topicMatches('$SYS/monitor/+', '$SYS/monitor/Clients'), true);
  assert.equal(topicMatches('$SYS/#', '$SYS'), true);
  // Only the first level counts: a '$' further down is an ordinary character.
  assert.equal(topicMatches('a/+', 'a/$x'), true);
  assert.equal(topicMatches('a/#', 'a/$x/y'), true);
});
