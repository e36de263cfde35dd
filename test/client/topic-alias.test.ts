import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InboundTopicAliases, OutboundTopicAliases } from '../../src/client/topic-alias.js';
import { MqttError } from '../../src/protocol/errors.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';

const code = (reasonCode: number) => (error: unknown) => error instanceof MqttError && error.reasonCode === reasonCode;

test('outbound aliases: a new topic gets the next alias, a known topic is sent by alias only', () => {
  const aliases = new OutboundTopicAliases();
  aliases.reset(2);
  assert.deepEqual(aliases.assign('a'), { alias: 1, known: false });
  assert.deepEqual(aliases.assign('b'), { alias: 2, known: false });
  assert.deepEqual(aliases.assign('a'), { alias: 1, known: true });
  // Full: the least recently used topic ('b') gives up its alias.
  assert.deepEqual(aliases.assign('c'), { alias: 2, known: false });
  assert.deepEqual(aliases.assign('b'), { alias: 1, known: false });
  assert.equal(aliases.topicOf(1), 'b');
  assert.equal(aliases.topicOf(2), 'c');
});

test('[MQTT-3.3.2-9] no outbound alias when the server allows none, or above its maximum', () => {
  const aliases = new OutboundTopicAliases();
  aliases.reset(0);
  assert.equal(aliases.assign('a'), undefined);
  aliases.reset(3);
  assert.throws(() => aliases.set(4, 'x'), code(ReasonCode.TopicAliasInvalid));
  assert.throws(() => aliases.set(0, 'x'), code(ReasonCode.TopicAliasInvalid));
  aliases.set(3, 'x');
  assert.deepEqual(aliases.assign('x'), { alias: 3, known: true });
  // Aliases belong to one connection.
  aliases.reset(3);
  assert.equal(aliases.topicOf(3), undefined);
});

test('[MQTT-3.3.2-10] [MQTT-3.3.2-11] inbound aliases resolve and are checked against our maximum', () => {
  const aliases = new InboundTopicAliases();
  aliases.reset(2);
  assert.equal(aliases.resolve('plain', undefined), 'plain');
  assert.equal(aliases.resolve('x/y', 1), 'x/y');
  assert.equal(aliases.resolve('', 1), 'x/y');
  assert.equal(aliases.resolve('z', 1), 'z');
  assert.equal(aliases.resolve('', 1), 'z');
  assert.throws(() => aliases.resolve('', 2), code(ReasonCode.ProtocolError));
  assert.throws(() => aliases.resolve('a', 3), code(ReasonCode.TopicAliasInvalid));
  assert.throws(() => aliases.resolve('a', 0), code(ReasonCode.TopicAliasInvalid));
});
