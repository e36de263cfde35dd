import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as protocol from '../../src/protocol/index.js';

test('the protocol entry point exports the codec API other parts build on', () => {
  for (const name of [
    'Decoder',
    'decodePacket',
    'encode',
    'encodePublishShared',
    'withPacketId',
    'MqttError',
    'ReasonCode',
    'ReasonCodesByPacket',
    'PacketTypeCode',
    'encodeVariableByteInteger',
    'decodeVariableByteInteger',
    'variableByteIntegerLength',
    'isValidMqttUtf8',
    'decodeUtf8',
    'PROPERTY_DEFINITIONS',
    'isPropertyAllowed',
  ]) {
    assert.ok(name in protocol, name);
  }
  // A round trip through the entry point alone.
  const packets: protocol.Packet[] = [];
  const decoder = new protocol.Decoder((p) => packets.push(p), { protocolVersion: 5 });
  decoder.push(protocol.encode({ type: 'pingreq' }, 5));
  assert.deepStrictEqual(packets, [{ type: 'pingreq' }]);
});
