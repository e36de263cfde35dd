import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MqttError } from '../../src/protocol/errors.js';
import { connackReturnCodeFor, ReasonCode, reasonName } from '../../src/protocol/reason-codes.js';

test('MqttError carries its reason code and names it in the message', () => {
  const err = new MqttError(ReasonCode.MalformedPacket, 'bad length', { cause: new Error('inner') });
  assert.equal(err.reasonCode, 0x81);
  assert.match(err.message, /MalformedPacket/);
  assert.ok(err.cause instanceof Error);
  assert.ok(err instanceof Error);
});

test('reason codes map to 3.1.1 CONNACK return codes', () => {
  assert.equal(connackReturnCodeFor(ReasonCode.UnsupportedProtocolVersion), 0x01);
  assert.equal(connackReturnCodeFor(ReasonCode.ClientIdentifierNotValid), 0x02);
  assert.equal(connackReturnCodeFor(ReasonCode.BadUserNameOrPassword), 0x04);
  assert.equal(connackReturnCodeFor(ReasonCode.NotAuthorized), 0x05);
  assert.equal(reasonName(0x9f), 'ConnectionRateExceeded');
});
