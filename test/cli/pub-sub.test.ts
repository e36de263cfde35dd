// `starling pub` and `starling sub` against Mosquitto, checked with mosquitto_pub and mosquitto_sub.

import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Broker } from '../../src/broker/broker.js';
import {
  checkFlags,
  clientSettings,
  commonFlagSpecs,
  defaultFlags,
  parseFlags,
} from '../../src/cli/connect-options.js';
import { runPub } from '../../src/cli/pub.js';
import { formatMessage, runSub } from '../../src/cli/sub.js';
import type { Message } from '../../src/client/index.js';
import { createListener } from '../../src/transport/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { waitFor } from '../client/helpers.js';
import { testCertificates } from '../helpers/certs.js';
import { type MosquittoInstance, mosquittoSkipReason, startMosquitto } from '../helpers/mosquitto.js';
import { memoryIo } from './io.js';

const skip = mosquittoSkipReason ?? (existsSync('/usr/bin/mosquitto_sub') ? false : 'mosquitto-clients not installed');
if (typeof skip === 'string') console.log(`# ${skip}`);

/** mosquitto_sub processes still running; killed after the tests, whatever happened. */
const children = new Set<ChildProcess>();

/** Runs mosquitto_sub until it has subscribed (seen with -d), then returns it with its output so far. */
async function mosquittoSub(
  args: string[],
): Promise<{ child: ChildProcess; lines: () => string[]; exited: Promise<number> }> {
  // stdbuf: mosquitto_sub's stdout is block-buffered on a pipe, and -d's "received SUBACK" is the readiness signal.
  const child = spawn('/usr/bin/stdbuf', ['-oL', '/usr/bin/mosquitto_sub', '-d', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const exited = new Promise<number>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      resolve(code ?? -1);
    }),
  );
  await waitFor(() => out.includes('received SUBACK'), 'mosquitto_sub to subscribe');
  const lines = (): string[] =>
    out.split('\n').filter((line) => line !== '' && !line.startsWith('Client ') && !line.startsWith('Subscribed'));
  return { child, lines, exited };
}

/** Runs a node script to its end; resolves with its exit code and output. */
function run(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { timeout: 10_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function mosquittoPub(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('/usr/bin/mosquitto_pub', args, { timeout: 5000 }, (error) => (error ? reject(error) : resolve()));
  });
}

describe('starling pub and starling sub against Mosquitto', { skip }, () => {
  let mosquitto: MosquittoInstance;
  let port: string;
  let topicCounter = 0;
  const unique = (name: string): string => `cli-test/${name}/${++topicCounter}`;

  before(async () => {
    mosquitto = await startMosquitto();
    port = String(mosquitto.port);
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await mosquitto?.stop();
  });

  test('pub sends MQTT 5 properties that mosquitto_sub prints', async () => {
    const topic = unique('props');
    const format = '%t|%p|%q|%r|%C|%P|%E|%R|%D|%F';
    const sub = await mosquittoSub([
      '-h',
      '127.0.0.1',
      '-p',
      port,
      '-V',
      '5',
      '-q',
      '1',
      '-t',
      topic,
      '-C',
      '1',
      '-F',
      format,
    ]);
    const io = memoryIo();
    const code = await runPub(
      [
        ...['-h', '127.0.0.1', '-p', port, '-t', topic, '-m', 'hello', '-q', '1'],
        ...['-D', 'publish', 'user-property', 'site', 'north'],
        ...['-D', 'publish', 'user-property', 'site', 'south'],
        ...['-D', 'publish', 'content-type', 'text/plain'],
        ...['-D', 'publish', 'message-expiry-interval', '120'],
        ...['-D', 'publish', 'response-topic', 'replies/here'],
        ...['-D', 'publish', 'correlation-data', 'req-7'],
        ...['-D', 'publish', 'payload-format-indicator', '1'],
      ],
      io,
    );
    assert.equal(code, 0, io.err());
    assert.equal(await sub.exited, 0);
    const [line] = sub.lines();
    const fields = line?.split('|') ?? [];
    assert.deepEqual(fields.slice(0, 5), [topic, 'hello', '1', '0', 'text/plain']);
    // Mosquitto prints user properties as key:value pairs.
    assert.match(fields[5] ?? '', /site:north.*site:south/);
    assert.ok(Number(fields[6]) > 0 && Number(fields[6]) <= 120);
    assert.deepEqual(fields.slice(7), ['replies/here', 'req-7', '1']);
  });

  test('pub -l sends one message per line; -r retains', async () => {
    const topic = unique('lines');
    const sub = await mosquittoSub([
      '-h',
      '127.0.0.1',
      '-p',
      port,
      '-t',
      topic,
      '-q',
      '2',
      '-C',
      '3',
      '-F',
      '%p|%q|%r',
    ]);
    const io = memoryIo('first\nsecond line\n\nfourth');
    assert.equal(
      await runPub(['-h', '127.0.0.1', '-p', port, '-t', topic, '-l', '-q', '2', '-V', '311'], io),
      0,
      io.err(),
    );
    assert.equal(await sub.exited, 0);
    assert.deepEqual(sub.lines(), ['first|2|0', 'second line|2|0', '|2|0']);
    const retained = unique('retained');
    assert.equal(await runPub(['-h', '127.0.0.1', '-p', port, '-t', retained, '-m', 'kept', '-r'], memoryIo()), 0);
    const late = await mosquittoSub(['-h', '127.0.0.1', '-p', port, '-t', retained, '-C', '1', '-F', '%p|%r']);
    assert.equal(await late.exited, 0);
    assert.deepEqual(late.lines(), ['kept|1']);
  });

  test('pub -f, -s and -n send a file, stdin and an empty message', async () => {
    const topic = unique('sources');
    const dir = await mkdtemp(join(tmpdir(), 'starling-pub-'));
    try {
      const file = join(dir, 'payload.bin');
      await writeFile(file, Buffer.from([0, 1, 2, 0xff]));
      const sub = await mosquittoSub(['-h', '127.0.0.1', '-p', port, '-t', topic, '-C', '3', '-F', '%x|%l']);
      const base = ['-h', '127.0.0.1', '-p', port, '-t', topic, '-q', '1'];
      assert.equal(await runPub([...base, '-f', file], memoryIo()), 0);
      assert.equal(await runPub([...base, '-s'], memoryIo('all\nof stdin\n')), 0);
      assert.equal(await runPub([...base, '-n'], memoryIo()), 0);
      assert.equal(await sub.exited, 0);
      assert.deepEqual(sub.lines(), ['000102ff|4', `${Buffer.from('all\nof stdin\n').toString('hex')}|13`, '|0']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('sub prints what mosquitto_pub sends: -v, -C and --json with properties', async () => {
    const topic = unique('json');
    const io = memoryIo();
    const running = runSub(
      ['-h', '127.0.0.1', '-p', port, '-t', `${topic}/#`, '-q', '1', '-C', '2', '--json', '-d'],
      io,
    );
    await waitFor(() => io.err().includes('received SUBACK'), 'starling sub to subscribe');
    await mosquittoPub([
      ...['-h', '127.0.0.1', '-p', port, '-V', '5', '-t', `${topic}/a`, '-m', '{"t":1}', '-q', '1'],
      ...['-D', 'publish', 'user-property', 'k', 'v', '-D', 'publish', 'content-type', 'application/json'],
    ]);
    await mosquittoPub(['-h', '127.0.0.1', '-p', port, '-t', `${topic}/b`, '-n']);
    assert.equal(await running, 0);
    const lines = io
      .out()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(lines, [
      {
        topic: `${topic}/a`,
        qos: 1,
        retain: false,
        payload: '{"t":1}',
        properties: { userProperties: [['k', 'v']], contentType: 'application/json' },
      },
      { topic: `${topic}/b`, qos: 0, retain: false, payload: '' },
    ]);

    const verbose = memoryIo();
    const plain = runSub(['-h', '127.0.0.1', '-p', port, '-t', topic, '-v', '-C', '1', '-d'], verbose);
    await waitFor(() => verbose.err().includes('received SUBACK'), 'starling sub to subscribe');
    await mosquittoPub(['-h', '127.0.0.1', '-p', port, '-t', topic, '-m', 'two words']);
    assert.equal(await plain, 0);
    assert.equal(verbose.out(), `${topic} two words\n`);
  });

  test('sub -W exits with status 27 when the time is up, as mosquitto_sub does', async () => {
    const io = memoryIo();
    const started = Date.now();
    assert.equal(await runSub(['-h', '127.0.0.1', '-p', port, '-t', unique('quiet'), '-W', '1'], io), 27);
    assert.ok(Date.now() - started < 3000);
    assert.match(io.err(), /Timed out/);
  });

  test('sub ends cleanly with status 0 when stopped (SIGINT path)', async () => {
    const controller = new AbortController();
    const io = memoryIo('', controller.signal);
    const running = runSub(['-h', '127.0.0.1', '-p', port, '-t', unique('stop'), '-d'], io);
    await waitFor(() => io.err().includes('received SUBACK'), 'starling sub to subscribe');
    controller.abort();
    assert.equal(await running, 0);
    assert.match(io.err(), /sending DISCONNECT/);
  });

  test('-L URL gives host, port and topic at once', async () => {
    const topic = unique('url');
    const sub = await mosquittoSub(['-L', `mqtt://127.0.0.1:${port}/${topic}`, '-C', '1']);
    assert.equal(await runPub(['-L', `mqtt://127.0.0.1:${port}/${topic}`, '-m', 'via url'], memoryIo()), 0);
    assert.equal(await sub.exited, 0);
    assert.deepEqual(sub.lines(), ['via url']);
  });

  test('the starling command runs pub and sub as processes, with their exit codes', async () => {
    const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
    const topic = unique('process');
    const sub = spawn(process.execPath, [
      main,
      'sub',
      '-h',
      '127.0.0.1',
      '-p',
      port,
      '-t',
      topic,
      '-v',
      '-C',
      '1',
      '-d',
    ]);
    children.add(sub);
    let out = '';
    let err = '';
    sub.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    sub.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    const subExit = new Promise<number | null>((resolve) => sub.once('exit', resolve));
    await waitFor(() => err.includes('received SUBACK'), 'starling sub to subscribe', 10_000).catch((error: Error) => {
      throw new Error(`${error.message}; its stderr: ${err}; exit code ${sub.exitCode}`);
    });
    const pub = await run(main, ['pub', '-h', '127.0.0.1', '-p', port, '-t', topic, '-m', 'from a process', '-q', '1']);
    assert.equal(pub.code, 0, pub.stderr);
    assert.equal(await subExit, 0);
    children.delete(sub);
    assert.equal(out, `${topic} from a process\n`);
    const timeout = await run(main, ['sub', '-h', '127.0.0.1', '-p', port, '-t', topic, '-W', '1']);
    assert.equal(timeout.code, 27, timeout.stderr);
    const refused = await run(main, ['pub', '-h', '127.0.0.1', '-p', '1', '-t', topic, '-m', 'x']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^Connection error: connect ECONNREFUSED/);
  });

  test('sub -c -E keeps a session that collects messages while away; -U leaves a filter of it', async () => {
    const base = ['-h', '127.0.0.1', '-p', port, '-c', '-i', `kept-${Date.now()}`, '-q', '1'];
    const topic = unique('kept');
    assert.equal(await runSub([...base, '-t', `${topic}/#`, '-E'], memoryIo()), 0);
    await mosquittoPub(['-h', '127.0.0.1', '-p', port, '-t', `${topic}/a`, '-m', 'while away', '-q', '1']);
    const back = memoryIo();
    assert.equal(await runSub([...base, '-t', `${topic}/#`, '-C', '1', '-v'], back), 0);
    assert.equal(back.out(), `${topic}/a while away\n`);
    assert.equal(await runSub([...base, '-U', `${topic}/#`], memoryIo()), 0);
    await mosquittoPub(['-h', '127.0.0.1', '-p', port, '-t', `${topic}/a`, '-m', 'not kept', '-q', '1']);
    const after = memoryIo();
    assert.equal(await runSub([...base, '-t', `${topic}-other`, '-W', '1'], after), 27);
    assert.equal(after.out(), '');
  });

  test('sub --retained-only prints the retained messages and stops at the first live one; -T filters out', async () => {
    const topic = unique('retained-only');
    for (const [sub, payload] of [
      ['one', 'r1'],
      ['two', 'r2'],
      ['skip', 'r3'],
    ]) {
      await mosquittoPub(['-h', '127.0.0.1', '-p', port, '-t', `${topic}/${sub}`, '-m', payload, '-r', '-q', '1']);
    }
    const io = memoryIo();
    const running = runSub(
      ['-h', '127.0.0.1', '-p', port, '-t', `${topic}/#`, '--retained-only', '-T', `${topic}/skip`, '-v', '-d'],
      io,
    );
    await waitFor(() => io.err().includes('received SUBACK'), 'starling sub to subscribe');
    await mosquittoPub(['-h', '127.0.0.1', '-p', port, '-t', `${topic}/live`, '-m', 'now']);
    assert.equal(await running, 0);
    assert.deepEqual(io.out().trim().split('\n').sort(), [`${topic}/one r1`, `${topic}/two r2`]);
  });

  test('--will-* flags: the broker publishes the will when a starling process dies; --repeat sends again', async () => {
    const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
    const topic = unique('will');
    const watcher = await mosquittoSub([
      '-h',
      '127.0.0.1',
      '-p',
      port,
      '-t',
      `${topic}/#`,
      '-C',
      '4',
      '-F',
      '%t %p %r',
    ]);
    const dying = spawn(process.execPath, [
      ...[main, 'sub', '-h', '127.0.0.1', '-p', port, '-t', `${topic}/nothing`, '-d'],
      ...['--will-topic', `${topic}/status`, '--will-payload', 'lost', '--will-qos', '1', '--will-retain'],
    ]);
    children.add(dying);
    let err = '';
    dying.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    await waitFor(() => err.includes('received SUBACK'), 'the process to subscribe', 10_000);
    dying.kill('SIGKILL');
    await new Promise((resolve) => dying.once('exit', resolve));
    children.delete(dying);
    const io = memoryIo();
    assert.equal(
      await runPub(['-h', '127.0.0.1', '-p', port, '-t', `${topic}/again`, '-m', 'x', '--repeat', '3'], io),
      0,
    );
    assert.equal(await watcher.exited, 0);
    assert.deepEqual(watcher.lines(), [
      `${topic}/status lost 0`,
      `${topic}/again x 0`,
      `${topic}/again x 0`,
      `${topic}/again x 0`,
    ]);
  });

  test('a refused connection exits 1 and names the reason', async () => {
    const closed = await startMosquitto({ config: ['allow_anonymous false'] });
    try {
      for (const version of ['5', '311']) {
        const io = memoryIo();
        const code = await runPub(
          ['-h', '127.0.0.1', '-p', String(closed.port), '-V', version, '-t', 't', '-m', 'x'],
          io,
        );
        assert.equal(code, 1);
        assert.equal(io.err(), 'Connection error: Not authorized\n');
      }
      const io = memoryIo();
      assert.equal(await runSub(['-h', '127.0.0.1', '-p', String(closed.port), '-t', 't'], io), 1);
      assert.equal(io.err(), 'Connection error: Not authorized\n');
    } finally {
      await closed.stop();
    }
  });
});

test('sub rides out a broker restart: it reconnects, subscribes again and keeps printing', { skip }, async () => {
  const own = await startMosquitto();
  try {
    const port = String(own.port);
    const io = memoryIo();
    const running = runSub(['-h', '127.0.0.1', '-p', port, '-t', 'restart/t', '-q', '1', '-C', '2', '-d'], io);
    const subacks = (): number => io.err().split('received SUBACK').length - 1;
    await waitFor(() => subacks() === 1, 'starling sub to subscribe');
    await mosquittoPub(['-h', '127.0.0.1', '-p', port, '-t', 'restart/t', '-m', 'before', '-q', '1']);
    await waitFor(() => io.out().includes('before'), 'the first message');
    await own.restart();
    await waitFor(() => subacks() === 2, 'starling sub to subscribe again', 10_000);
    await mosquittoPub(['-h', '127.0.0.1', '-p', port, '-t', 'restart/t', '-m', 'after', '-q', '1']);
    assert.equal(await running, 0);
    assert.equal(io.out(), 'before\nafter\n');
  } finally {
    await own.stop();
  }
});

test('pub and sub over TLS: --cafile verifies the server, --cert/--key present ours (mutual TLS)', async () => {
  const certs = await testCertificates();
  const broker = new Broker({ logger: silentLogger() });
  await broker.start();
  const listener = await createListener(
    {
      name: 'mqtts',
      host: '127.0.0.1',
      port: 0,
      protocol: 'mqtts',
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert, requireClientCert: true },
    },
    (stream, meta) => broker.handle(stream, meta),
    silentLogger(),
  );
  try {
    const port = String(listener.address().port);
    const tls = ['--cafile', certs.caCert, '--cert', certs.clientCert, '--key', certs.clientKey];
    const io = memoryIo();
    const running = runSub(['-h', '127.0.0.1', '-p', port, ...tls, '-t', 'secure/#', '-C', '1', '-v', '-d'], io);
    await waitFor(() => io.err().includes('received SUBACK'), 'starling sub to subscribe over TLS');
    const pub = memoryIo();
    assert.equal(
      await runPub(['-h', '127.0.0.1', '-p', port, ...tls, '-t', 'secure/a', '-m', 'sealed', '-q', '1'], pub),
      0,
      pub.err(),
    );
    assert.equal(await running, 0);
    assert.equal(io.out(), 'secure/a sealed\n');
    // Without --cafile the server's certificate is not trusted.
    const untrusted = memoryIo();
    assert.equal(await runPub(['-h', '127.0.0.1', '-p', port, '--insecure', '-t', 'x', '-m', 'x'], untrusted), 1);
    assert.match(untrusted.err(), /^Connection error: /);
  } finally {
    await listener.close();
    await broker.close();
  }
});

test('usage errors exit 1 with a message, --help exits 0', async () => {
  const cases: [string[], RegExp][] = [
    [['-t', 'a'], /both a topic/],
    [['-t', 'a', '-m', 'x', '-z'], /unknown option '-z'/],
    [['-t', 'a', '-m', 'x', '-q', '3'], /-q must be a whole number from 0 to 2/],
    [['-t', 'a', '-m', 'x', '-V', '311', '-D', 'publish', 'content-type', 'x'], /need MQTT 5/],
    [['-t', 'a', '-m', 'x', '-D', 'connect', 'content-type', 'x'], /not allowed with connect/],
    [['-t', 'a', '-m', 'x', '-c'], /client id/],
    [['-t', 'a', '-m', 'x', '-n'], /only one of/],
  ];
  for (const [argv, message] of cases) {
    const io = memoryIo();
    assert.equal(await runPub(argv, io), 1, argv.join(' '));
    assert.match(io.err(), message);
  }
  const help = memoryIo();
  assert.equal(await runSub(['--help'], help), 0);
  assert.match(help.out(), /Usage: starling sub/);
  const noTopic = memoryIo();
  assert.equal(await runSub([], noTopic), 1);
  assert.match(noTopic.err(), /at least one topic filter/);
});

test('-D, -c, -x, -V, --will-* and TLS flags become the client options mosquitto would use', () => {
  const flags = parseFlags(
    [
      ...['-h', '::1', '-i', 'dev-1', '-c', '-k', '15', '-u', 'ann', '-P', 'pw', '--insecure'],
      ...['-D', 'connect', 'user-property', 'site', 'lab', '-D', 'connect', 'receive-maximum', '10'],
      ...['-D', 'connect', 'topic-alias-maximum', '5', '-D', 'connect', 'request-response-information', '1'],
      ...['--will-topic', 'dev/1/status', '--will-payload', 'lost', '--will-qos', '1', '--will-retain'],
      ...['-D', 'will', 'will-delay-interval', '30', '-D', 'will', 'content-type', 'text/plain'],
    ],
    defaultFlags(),
    commonFlagSpecs(),
  );
  checkFlags(flags);
  const { url, options } = clientSettings(flags);
  // TLS (from --insecure) moves the default port to 8883; an IPv6 host is bracketed.
  assert.equal(url, 'mqtts://[::1]:8883');
  assert.deepEqual(options, {
    protocolVersion: 5,
    keepalive: 15,
    clean: false,
    clientId: 'dev-1',
    username: 'ann',
    password: 'pw',
    tls: { verifyHostname: false },
    will: {
      topic: 'dev/1/status',
      payload: 'lost',
      qos: 1,
      retain: true,
      properties: { willDelayInterval: 30, contentType: 'text/plain' },
    },
    // -c on MQTT 5 keeps the session for ever, as mosquitto does, unless -x says otherwise.
    sessionExpiryInterval: 0xffffffff,
    receiveMaximum: 10,
    topicAliasMaximum: 5,
    requestResponseInformation: true,
    userProperties: [['site', 'lab']],
  });
  const v311 = parseFlags(
    ['-V', '311', '-x', '60', '-L', 'mqtt://u:p@broker:1999/a/b'],
    defaultFlags(),
    commonFlagSpecs(),
  );
  const settings311 = clientSettings(v311);
  assert.equal(settings311.url, 'mqtt://u:p@broker:1999');
  assert.deepEqual(v311.topics, ['a/b']);
  assert.equal(settings311.options.protocolVersion, 4);
  assert.equal(settings311.options.sessionExpiryInterval, undefined);
});

test('-F renders mosquitto_sub format sequences and escapes', () => {
  const message: Message = {
    topic: 'a/b',
    payload: Buffer.from('hi'),
    qos: 1,
    retain: true,
    dup: false,
    packetId: 17,
    properties: {
      contentType: 'text/plain',
      userProperties: [
        ['x', '1'],
        ['y', '2'],
      ],
      subscriptionIdentifiers: [3, 4],
    },
  };
  const now = new Date('2026-01-02T03:04:05.678Z');
  assert.equal(
    formatMessage('%t %p %q %r %l %m %x %X %C %P %S %% %I\\t\\\\', message, now).toString(),
    'a/b hi 1 1 2 17 6869 6869 text/plain x:1 y:2 3,4 % 2026-01-02T03:04:05Z\t\\',
  );
  assert.deepEqual(JSON.parse(formatMessage('%j', message, now).toString()), {
    tst: '2026-01-02T03:04:05.678Z',
    topic: 'a/b',
    qos: 1,
    retain: 1,
    payload: 'hi',
  });
  assert.deepEqual([...formatMessage('%p\\0', { ...message, payload: Buffer.from([0xff]) })], [0xff, 0]);
});
