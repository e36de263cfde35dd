// A scripted MQTT server over real loopback sockets, built on Starling's codec, for client tests
// that need a server to misbehave in ways real brokers do not (silence, aliases, refusals).

import { createServer, type Socket } from 'node:net';
import { Decoder } from '../../src/protocol/decoder.js';
import { encode } from '../../src/protocol/encoder.js';
import type { Packet, ProtocolVersion } from '../../src/protocol/packets.js';

export interface FakeConnection {
  /** Every packet received on this connection. */
  received: Packet[];
  send(packet: Packet): void;
  /** Raw bytes, for packets the encoder would refuse. */
  sendRaw(bytes: Buffer): void;
  destroy(): void;
  /** Stops reading from the socket, so that the client's writes back up. */
  pause(): void;
  resume(): void;
  closed: boolean;
}

export interface FakeServer {
  port: number;
  connections: FakeConnection[];
  close(): Promise<void>;
}

/** Handles one packet from the client; returns true when it answered, so a default answer is skipped. */
export type PacketScript = (connection: FakeConnection, packet: Packet) => boolean | undefined;

/** A server on a free loopback port that runs `script` for every packet it receives. */
export async function startFakeServer(version: ProtocolVersion, script: PacketScript): Promise<FakeServer> {
  const sockets = new Set<Socket>();
  const connections: FakeConnection[] = [];
  const server = createServer((socket) => {
    sockets.add(socket);
    const connection: FakeConnection = {
      received: [],
      closed: false,
      send(packet) {
        if (!socket.destroyed) socket.write(encode(packet, version));
      },
      sendRaw(bytes) {
        if (!socket.destroyed) socket.write(bytes);
      },
      destroy() {
        socket.destroy();
      },
      pause() {
        socket.pause();
      },
      resume() {
        socket.resume();
      },
    };
    connections.push(connection);
    const decoder = new Decoder(
      (packet) => {
        connection.received.push(packet);
        script(connection, packet);
      },
      { protocolVersion: version },
    );
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch {
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      connection.closed = true;
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    connections,
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The usual answers: CONNACK to CONNECT, SUBACK granting what was asked, PINGRESP, PUBACK/PUBREC/PUBCOMP. */
export function politeServer(extra?: PacketScript): PacketScript {
  return (connection, packet) => {
    if (extra?.(connection, packet) === true) return true;
    switch (packet.type) {
      case 'connect':
        connection.send({ type: 'connack', sessionPresent: false, reasonCode: 0 });
        break;
      case 'subscribe':
        connection.send({
          type: 'suback',
          packetId: packet.packetId,
          reasonCodes: packet.subscriptions.map((s) => s.qos),
        });
        break;
      case 'pingreq':
        connection.send({ type: 'pingresp' });
        break;
      case 'publish':
        if (packet.qos === 1) connection.send({ type: 'puback', packetId: packet.packetId as number });
        if (packet.qos === 2) connection.send({ type: 'pubrec', packetId: packet.packetId as number });
        break;
      case 'pubrel':
        connection.send({ type: 'pubcomp', packetId: packet.packetId });
        break;
      default:
        break;
    }
    return true;
  };
}
