// The codec against clients we did not write: Debian's mosquitto_pub and mosquitto_sub talk to a
// minimal responder built only from Decoder and encode, at MQTT 3.1, 3.1.1 and 5.0.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Decoder } from '../../src/protocol/decoder.js';
import { encode } from '../../src/protocol/encoder.js';
import type { Packet, ProtocolVersion } from '../../src/protocol/packets.js';

const PUB = '/usr/bin/mosquitto_pub';
const SUB = '/usr/bin/mosquitto_sub';
const available = existsSync(PUB) && existsSync(SUB);

/** Answers like a broker would, and records every packet it decodes. */
function respond(socket: Socket, seen: Packet[]): void {
  const decoder = new Decoder((packet) => {
    seen.push(packet);
    const v = decoder.protocolVersion as ProtocolVersion;
    switch (packet.type) {
      case 'connect':
        socket.write(encode({ type: 'connack', sessionPresent: false, reasonCode: 0 }, v));
        break;
      case 'publish':
        if (packet.qos === 1) socket.write(encode({ type: 'puback', packetId: packet.packetId! }, v));
        if (packet.qos === 2) socket.write(encode({ type: 'pubrec', packetId: packet.packetId! }, v));
        break;
      case 'pubrel':
        socket.write(encode({ type: 'pubcomp', packetId: packet.packetId }, v));
        break;
      case 'subscribe':
        socket.write(
          encode({ type: 'suback', packetId: packet.packetId, reasonCodes: packet.subscriptions.map((s) => s.qos) }, v),
        );
        socket.write(
          encode(
            {
              type: 'publish',
              topic: 'x/y',
              payload: Buffer.from('from-starling'),
              qos: 1,
              retain: false,
              dup: false,
              packetId: 7,
              properties: { userProperties: [['k', 'v']], contentType: 'text/plain' },
            },
            v,
          ),
        );
        break;
      default:
        break;
    }
  });
  socket.on('data', (chunk: Buffer) => {
    try {
      decoder.push(chunk);
    } catch (err) {
      seen.push({ type: 'disconnect', reasonCode: 0x81, properties: { reasonString: String(err) } });
      socket.destroy();
    }
  });
  socket.on('error', () => {});
}

function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const levels = [
  { flag: 'mqttv31', version: 3, protocolName: 'MQIsdp' },
  { flag: 'mqttv311', version: 4, protocolName: 'MQTT' },
  { flag: 'mqttv5', version: 5, protocolName: 'MQTT' },
] as const;

describe('mosquitto clients against Starling’s codec', {
  skip: available ? false : 'mosquitto clients not installed',
}, () => {
  let server: Server;
  let port = 0;
  let seen: Packet[] = [];
  const sockets = new Set<Socket>();

  before(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      respond(socket, seen);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });

  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  for (const level of levels) {
    test(`${level.flag}: mosquitto_pub's CONNECT with will and credentials and its QoS 2 PUBLISH decode; our acks satisfy it`, async () => {
      seen = [];
      const args = [
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-V',
        level.flag,
        '-i',
        'pubclient',
        '-u',
        'user',
        '-P',
        'pw',
      ];
      args.push(
        '--will-topic',
        'w/t',
        '--will-payload',
        'bye',
        '--will-qos',
        '1',
        '-t',
        'a/b',
        '-m',
        'hello',
        '-q',
        '2',
        '-r',
      );
      if (level.version === 5)
        args.push('-D', 'publish', 'user-property', 'a', 'b', '-D', 'publish', 'message-expiry-interval', '30');
      const { code, output } = await run(PUB, args);
      assert.equal(code, 0, output);
      const types = seen.map((p) => p.type);
      assert.deepStrictEqual(types, ['connect', 'publish', 'pubrel', 'disconnect']);
      const connect = seen[0] as Extract<Packet, { type: 'connect' }>;
      assert.equal(connect.protocolName, level.protocolName);
      assert.equal(connect.protocolVersion, level.version);
      assert.equal(connect.clientId, 'pubclient');
      assert.equal(connect.username, 'user');
      assert.deepStrictEqual(connect.password, Buffer.from('pw'));
      assert.deepStrictEqual(
        { ...connect.will, properties: undefined },
        { topic: 'w/t', payload: Buffer.from('bye'), qos: 1, retain: false, properties: undefined },
      );
      const publish = seen[1] as Extract<Packet, { type: 'publish' }>;
      assert.equal(publish.topic, 'a/b');
      assert.equal(publish.payload.toString(), 'hello');
      assert.equal(publish.qos, 2);
      assert.equal(publish.retain, true);
      if (level.version === 5) {
        assert.deepStrictEqual(publish.properties?.userProperties, [['a', 'b']]);
        assert.equal(publish.properties?.messageExpiryInterval, 30);
      }
    });

    test(`${level.flag}: mosquitto_sub accepts our SUBACK and a QoS 1 PUBLISH`, async () => {
      seen = [];
      const args = [
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-V',
        level.flag,
        '-t',
        'x/#',
        '-q',
        '1',
        '-C',
        '1',
        '-W',
        '5',
      ];
      args.push('-F', level.version === 5 ? '%t %p %P' : '%t %p');
      const { code, output } = await run(SUB, args);
      assert.equal(code, 0, output);
      assert.equal(output.trim(), level.version === 5 ? 'x/y from-starling k:v' : 'x/y from-starling');
      const subscribe = seen.find((p) => p.type === 'subscribe') as Extract<Packet, { type: 'subscribe' }>;
      assert.equal(subscribe.subscriptions[0]?.topicFilter, 'x/#');
      assert.equal(subscribe.subscriptions[0]?.qos, 1);
      assert.ok(
        seen.some((p) => p.type === 'puback' && p.packetId === 7),
        'mosquitto_sub acknowledged our PUBLISH',
      );
    });
  }
});
