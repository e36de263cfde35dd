// Shared by the client tests: a transport tap that records (and can drop) what the client writes,
// and bounded waiting.

import type { Transport, TransportFactory } from '../../src/client/transport.js';
import { nodeTransportFactory } from '../../src/client/transport-node.js';
import { Decoder, decodePacket } from '../../src/protocol/decoder.js';
import type { Packet, ProtocolVersion } from '../../src/protocol/packets.js';

export interface Tap {
  factory: TransportFactory;
  /** Every packet the client wrote (each chunk the client writes is one packet), dropped ones included. */
  sent: Packet[];
  /** Every packet the server sent. */
  received: Packet[];
  /** How many times the client called write(). */
  writes: number;
  /** Packets for which this returns true are not written. */
  drop: (packet: Packet) => boolean;
  /** The current connection's transport. */
  transport: Transport | undefined;
  /** Kills the current connection as a network failure would. */
  cut(): void;
}

export function tapTransport(protocolVersion: ProtocolVersion): Tap {
  const tap: Tap = {
    sent: [],
    received: [],
    writes: 0,
    drop: () => false,
    transport: undefined,
    cut() {
      tap.transport?.destroy();
    },
    factory: async (target, handlers) => {
      const decoder = new Decoder((packet) => tap.received.push(packet), { protocolVersion });
      const inner = await nodeTransportFactory(target, {
        onData(chunk) {
          decoder.push(chunk);
          handlers.onData(chunk);
        },
        onClose: (error) => handlers.onClose(error),
        onDrain: () => handlers.onDrain?.(),
      });
      const transport: Transport = {
        write(chunks) {
          tap.writes++;
          const kept: Buffer[] = [];
          for (const chunk of chunks) {
            const packet = decodePacket(chunk, protocolVersion);
            tap.sent.push(packet);
            if (!tap.drop(packet)) kept.push(chunk);
          }
          return kept.length > 0 ? inner.write(kept) : true;
        },
        end: () => inner.end(),
        destroy: () => inner.destroy(),
      };
      tap.transport = transport;
      return transport;
    },
  };
  return tap;
}

/** Polls `condition` every 10 ms for up to `timeoutMs`; rejects with `what` when it stays false. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
