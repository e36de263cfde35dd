// Whatever bytes a server sends, the client must not throw out of its event handlers: it answers
// with DISCONNECT and a reason code, or goes on. An in-memory transport makes 300 runs fast.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MqttClient } from '../../src/client/index.js';
import type { Transport, TransportFactory, TransportHandlers } from '../../src/client/transport.js';
import { encode } from '../../src/protocol/encoder.js';
import { MqttError } from '../../src/protocol/errors.js';
import type { Packet } from '../../src/protocol/packets.js';

/** xorshift32: reproducible randomness, so a failure names its seed. */
function random(seed: number): () => number {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

/** A transport that answers CONNECT with CONNACK, then delivers `chunks` (chosen by the test). */
function scriptedTransport(chunks: () => Buffer[]): { factory: TransportFactory; closed: () => boolean } {
  let closed = false;
  const factory: TransportFactory = async (_target, handlers: TransportHandlers) => {
    closed = false;
    let answered = false;
    const transport: Transport = {
      write() {
        if (answered || closed) return true;
        answered = true;
        const connack: Packet = {
          type: 'connack',
          sessionPresent: false,
          reasonCode: 0,
          properties: { topicAliasMaximum: 3 },
        };
        queueMicrotask(() => {
          handlers.onData(encode(connack, 5));
          for (const chunk of chunks()) if (!closed) handlers.onData(chunk);
        });
        return true;
      },
      end() {
        transport.destroy();
      },
      destroy() {
        if (closed) return;
        closed = true;
        queueMicrotask(() => handlers.onClose());
      },
    };
    return transport;
  };
  return { factory, closed: () => closed };
}

test('random and mutated server bytes never escape the client as exceptions', async () => {
  const valid: Packet[] = [
    { type: 'publish', topic: 'a/b', payload: Buffer.from('x'), qos: 1, retain: false, dup: false, packetId: 7 },
    {
      type: 'publish',
      topic: '',
      payload: Buffer.alloc(0),
      qos: 0,
      retain: true,
      dup: false,
      properties: { topicAlias: 2 },
    },
    { type: 'pubrel', packetId: 3 },
    { type: 'suback', packetId: 1, reasonCodes: [0, 0x80] },
    { type: 'disconnect', reasonCode: 0x8b },
    { type: 'auth', reasonCode: 0x18 },
    { type: 'pingresp' },
  ];
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown): void => {
    uncaught.push(error);
  };
  process.on('uncaughtException', onUncaught);
  try {
    for (let seed = 1; seed <= 300; seed++) {
      const next = random(seed);
      const chunks = (): Buffer[] => {
        const out: Buffer[] = [];
        const count = 1 + Math.floor(next() * 4);
        for (let i = 0; i < count; i++) {
          if (next() < 0.5) {
            const bytes = Buffer.alloc(1 + Math.floor(next() * 40));
            for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(next() * 256);
            out.push(bytes);
          } else {
            const bytes = Buffer.from(encode(valid[Math.floor(next() * valid.length)] as Packet, 5));
            const flips = Math.floor(next() * 3);
            for (let f = 0; f < flips; f++) bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
            out.push(bytes);
          }
        }
        return out;
      };
      const { factory } = scriptedTransport(chunks);
      const client = new MqttClient('mqtt://fuzz.invalid', {
        transport: factory,
        reconnect: false,
        topicAliasMaximum: 2,
      });
      const errors: unknown[] = [];
      client.on('error', (error) => errors.push(error));
      await client.connect().catch(() => undefined);
      await new Promise((resolve) => setImmediate(resolve));
      for (const error of errors) assert.ok(error instanceof MqttError, `seed ${seed}: ${String(error)}`);
      await client.end().catch(() => undefined);
      assert.equal(client.state, 'closed', `seed ${seed}`);
    }
  } finally {
    process.off('uncaughtException', onUncaught);
  }
  assert.deepEqual(uncaught, []);
});
