// A trivial relay, NOT a broker: it answers CONNECT and SUBSCRIBE, acknowledges what it must, and
// forwards every PUBLISH it reads, byte for byte and a whole chunk per write, to every subscriber,
// with no topic matching. Far cheaper per message than any real broker, it shows the load
// generator's own ceiling: if the generator drives the relay much faster than a broker, the
// broker, not the generator, limits that broker's numbers.
//   node dist/bench/relay-server.js PORT
import net from 'node:net';
import { decodePacket } from '../src/protocol/decoder.js';
import { encode } from '../src/protocol/encoder.js';
import type { ProtocolVersion } from '../src/protocol/packets.js';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('usage: relay-server PORT\n');
  process.exit(2);
}

interface Peer {
  socket: net.Socket;
  version: ProtocolVersion | undefined;
  rest: Buffer | undefined;
}

const subscribers = new Set<net.Socket>();
const paused = new Set<net.Socket>();

function resumeAll(): void {
  for (const s of paused) s.resume();
  paused.clear();
}

function ack(type: 'puback' | 'pubrec' | 'pubcomp', packetId: number, version: ProtocolVersion): Buffer {
  return encode({ type, packetId }, version);
}

function onChunk(peer: Peer, input: Buffer): void {
  const buf = peer.rest ? Buffer.concat([peer.rest, input]) : input;
  peer.rest = undefined;
  let at = 0;
  let forwardFrom = -1;
  let forwardTo = -1;
  const acks: Buffer[] = [];
  while (at < buf.length) {
    // Fixed header: type byte and a variable byte integer of at most 4 bytes.
    let length = 0;
    let shift = 0;
    let i = at + 1;
    let complete = false;
    for (; i < buf.length && i < at + 5; i++) {
      const b = buf[i]!;
      length += (b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) === 0) {
        complete = true;
        i++;
        break;
      }
    }
    if (!complete || i + length > buf.length) break;
    const end = i + length;
    const type = buf[at]! >> 4;
    if (type === 3 && peer.version !== undefined) {
      const qos = (buf[at]! >> 1) & 3;
      if (qos > 0) {
        const topicLength = buf.readUInt16BE(i);
        const packetId = buf.readUInt16BE(i + 2 + topicLength);
        acks.push(ack(qos === 1 ? 'puback' : 'pubrec', packetId, peer.version));
      }
      if (forwardFrom < 0) forwardFrom = at;
      forwardTo = end;
    } else {
      const packet = decodePacket(buf.subarray(at, end), peer.version);
      const version = peer.version ?? (packet.type === 'connect' ? packet.protocolVersion : 4);
      switch (packet.type) {
        case 'connect':
          peer.version = packet.protocolVersion;
          acks.push(encode({ type: 'connack', sessionPresent: false, reasonCode: 0 }, version));
          break;
        case 'subscribe':
          subscribers.add(peer.socket);
          acks.push(
            encode(
              { type: 'suback', packetId: packet.packetId, reasonCodes: packet.subscriptions.map((s) => s.qos) },
              version,
            ),
          );
          break;
        case 'pubrel':
          acks.push(ack('pubcomp', packet.packetId, version));
          break;
        case 'pingreq':
          acks.push(encode({ type: 'pingresp' }, version));
          break;
        case 'disconnect':
          peer.socket.end();
          return;
        default:
          break;
      }
    }
    at = end;
  }
  if (at < buf.length) peer.rest = Buffer.from(buf.subarray(at));
  if (acks.length > 0) peer.socket.write(acks.length === 1 ? acks[0]! : Buffer.concat(acks));
  if (forwardFrom >= 0) {
    // One write per subscriber for the whole run of PUBLISH packets in this chunk.
    const bytes = buf.subarray(forwardFrom, forwardTo);
    let full = false;
    for (const s of subscribers) if (!s.write(bytes)) full = true;
    if (full) {
      peer.socket.pause();
      paused.add(peer.socket);
    }
  }
}

const server = net.createServer({ noDelay: true }, (socket) => {
  const peer: Peer = { socket, version: undefined, rest: undefined };
  socket.on('data', (chunk: Buffer) => {
    try {
      onChunk(peer, chunk);
    } catch {
      socket.destroy();
    }
  });
  socket.on('drain', resumeAll);
  socket.on('error', () => {});
  socket.on('close', () => {
    subscribers.delete(socket);
    paused.delete(socket);
  });
});
server.listen(port, '127.0.0.1', () => process.stdout.write(`relay listening on 127.0.0.1:${port}\n`));
const stop = () => {
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
