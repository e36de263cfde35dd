// Interop: Starling's broker with Debian's mosquitto_pub / mosquitto_sub over real TCP.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Broker } from '../../src/broker/broker.js';

const PUB = '/usr/bin/mosquitto_pub';
const SUB = '/usr/bin/mosquitto_sub';
const installed = existsSync(PUB) && existsSync(SUB);

function run(file: string, args: string[], timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')}: ${error.message} ${stderr}`));
      else resolve(stdout);
    });
  });
}

describe('broker interop with mosquitto_pub and mosquitto_sub', () => {
  let broker: Broker;
  let server: Server;
  let port = 0;
  const children: ChildProcess[] = [];

  before(async () => {
    broker = new Broker({ sysIntervalSeconds: 1 });
    await broker.start();
    server = createServer((socket) =>
      broker.handle(socket, { loopbackOnly: true, remoteAddress: socket.remoteAddress }),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    assert.ok(address && typeof address === 'object');
    port = address.port;
  });

  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await broker.close();
    server.close();
  });

  /** Starts mosquitto_sub and resolves once its SUBSCRIBE is in place; `done` resolves with its output. */
  async function subscriber(args: string[]): Promise<{ done: Promise<string> }> {
    const before = broker.stats.subscriptions;
    const child = spawn(SUB, ['-h', '127.0.0.1', '-p', String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    const done = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`mosquitto_sub ${args.join(' ')} did not finish; got ${JSON.stringify(out)}`));
      }, 10_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code !== 0) reject(new Error(`mosquitto_sub ${args.join(' ')} exited with ${code}: ${err}`));
        else resolve(out);
      });
    });
    const deadline = Date.now() + 8000;
    while (broker.stats.subscriptions <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return { done };
  }

  for (const version of ['mqttv311', 'mqttv5', 'mqttv31'] as const) {
    test(`${version}: mosquitto_pub to mosquitto_sub at QoS 0, 1 and 2`, async (t) => {
      if (!installed) return t.skip('mosquitto_sub not installed');
      for (const qos of ['0', '1', '2']) {
        const topic = `mq/${version}/${qos}`;
        const sub = await subscriber(['-V', version, '-q', qos, '-t', topic, '-C', '1', '-v']);
        await run(PUB, [
          '-h',
          '127.0.0.1',
          '-p',
          String(port),
          '-V',
          version,
          '-q',
          qos,
          '-t',
          topic,
          '-m',
          `hello ${qos}`,
        ]);
        assert.equal(await sub.done, `${topic} hello ${qos}\n`);
      }
    });
  }

  test('retained message set by mosquitto_pub -r reaches a later mosquitto_sub', async (t) => {
    if (!installed) return t.skip('mosquitto_sub not installed');
    await run(PUB, ['-h', '127.0.0.1', '-p', String(port), '-t', 'mq/retained', '-m', 'stays', '-r', '-q', '1']);
    const out = await run(SUB, ['-h', '127.0.0.1', '-p', String(port), '-t', 'mq/retained', '-C', '1', '-W', '3']);
    assert.equal(out, 'stays\n');
  });

  test('MQTT 5 user properties from mosquitto_pub are printed by mosquitto_sub', async (t) => {
    if (!installed) return t.skip('mosquitto_sub not installed');
    const sub = await subscriber(['-V', 'mqttv5', '-t', 'mq/props', '-C', '1', '-F', '%P %p']);
    await run(PUB, [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-V',
      'mqttv5',
      '-t',
      'mq/props',
      '-m',
      'body',
      '-D',
      'publish',
      'user-property',
      'k',
      'v',
    ]);
    assert.equal(await sub.done, 'k:v body\n');
  });

  test('$SYS/broker/version is readable with mosquitto_sub', async (t) => {
    if (!installed) return t.skip('mosquitto_sub not installed');
    const out = await run(SUB, [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-t',
      '$SYS/broker/version',
      '-C',
      '1',
      '-W',
      '3',
    ]);
    assert.match(out, /^starling /);
  });

  test('a will set by mosquitto_sub --will-* is published when it is killed', async (t) => {
    if (!installed) return t.skip('mosquitto_sub not installed');
    const watcher = await subscriber(['-t', 'mq/will', '-C', '1']);
    const before = broker.stats.clientsConnected;
    const device = spawn(
      SUB,
      ['-h', '127.0.0.1', '-p', String(port), '-t', 'mq/none', '--will-topic', 'mq/will', '--will-payload', 'bye'],
      { stdio: 'ignore' },
    );
    children.push(device);
    const deadline = Date.now() + 3000;
    while (broker.stats.clientsConnected <= before && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    device.kill('SIGKILL');
    assert.equal(await watcher.done, 'bye\n');
  });
});
