// Checks that read the same in MQTT 3.1.1 and 5.0: the file of each version runs them with its protocol version.

import assert from 'node:assert/strict';
import type { ProtocolVersion } from '../../src/protocol/packets.js';
import type { Bench } from './raw-client.js';

/**
 * Three subscribers granted QoS 0, 1 and 2 get each of a QoS 0, 1 and 2 message at the minimum of the published and
 * the granted QoS ([MQTT-3.8.4-6] in 3.1.1, [MQTT-3.8.4-8] in 5.0).
 */
export async function assertMinimumQoSDelivered(bench: Bench, version: ProtocolVersion): Promise<void> {
  const subs = [
    await bench.connected('g0', version),
    await bench.connected('g1', version),
    await bench.connected('g2', version),
  ];
  for (const [qos, sub] of subs.entries()) await sub.subscribe('min/t', qos as 0 | 1 | 2);
  const pub = await bench.connected('pub', version);
  for (const qos of [0, 1, 2] as const) {
    pub.publish({ topic: 'min/t', qos, packetId: qos ? 10 + qos : undefined, payload: Buffer.from(`${qos}`) });
    for (const [granted, sub] of subs.entries()) {
      const m = await sub.expect('publish');
      assert.equal(m.qos, Math.min(qos, granted), `published ${qos}, granted ${granted}`);
      if (m.qos === 1) sub.send({ type: 'puback', packetId: m.packetId ?? 0 });
      if (m.qos === 2) sub.send({ type: 'pubrec', packetId: m.packetId ?? 0 });
    }
  }
}
