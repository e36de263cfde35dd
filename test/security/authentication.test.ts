import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hashPassword } from '../../src/auth/password-hash.js';
import type { RunningBroker } from '../../src/cli/broker.js';
import { listenerAuthPolicy } from '../../src/cli/listener-auth.js';
import { decodePacket } from '../../src/protocol/decoder.js';
import { encode } from '../../src/protocol/encoder.js';
import type { ConnectPacket, ProtocolVersion } from '../../src/protocol/packets.js';
import { attempt, collect, connect, deferred, hasMosquittoClients, refusal, run, start, urlOf } from './helpers.js';

/** Cheap scrypt parameters: the hashes are verified many times in these tests. */
const FAST = { N: 1024, r: 8, p: 1 };

let dir: string;
let passwordFile: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'starling-security-auth-'));
  passwordFile = join(dir, 'passwords');
  await writeFile(passwordFile, `alice:${await hashPassword('wonderland', FAST)}\n`);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Sends one CONNECT over a raw socket; resolves the bytes the broker sent before it closed the connection. */
async function rawConnect(port: number, packet: ConnectPacket): Promise<Buffer> {
  const socket = netConnect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(socket, 'connect');
  socket.write(encode(packet, packet.protocolVersion));
  const timer = setTimeout(() => socket.destroy(new Error('the broker did not close the connection')), 5000);
  try {
    await once(socket, 'end');
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
  return Buffer.concat(chunks);
}

function connectPacket(protocolVersion: ProtocolVersion, username?: string, password?: string): ConnectPacket {
  return {
    type: 'connect',
    protocolName: 'MQTT',
    protocolVersion,
    clean: true,
    keepAlive: 30,
    clientId: `raw-${protocolVersion}`,
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password: Buffer.from(password) } : {}),
  };
}

describe('authentication through a running broker', () => {
  let running: RunningBroker;
  let open: string;
  let closed: string;
  before(async () => {
    running = await start({
      listeners: [
        { name: 'default', port: 0 },
        { name: 'closed', port: 0, allowAnonymous: false },
      ],
      auth: { passwordFile },
    });
    open = urlOf(running, 'default');
    closed = urlOf(running, 'closed');
  });
  after(async () => {
    await running.close();
  });

  test('[MQTT-3.1.4-2] MQTT 5: a wrong password or an unknown user gets CONNACK 0x86; good ones are accepted', async () => {
    for (const url of [open, closed]) {
      assert.equal(await refusal(url, { protocolVersion: 5, username: 'alice', password: 'wrong' }), 0x86);
      assert.equal(await refusal(url, { protocolVersion: 5, username: 'mallory', password: 'wonderland' }), 0x86);
      assert.equal(await refusal(url, { protocolVersion: 5, username: 'alice' }), 0x86, 'a username without password');
      const alice = await connect(url, { protocolVersion: 5, username: 'alice', password: 'wonderland' });
      await alice.endAsync();
    }
  });

  test('MQTT 5: a client without credentials on a listener that refuses anonymous clients gets 0x87', async () => {
    assert.equal(await refusal(closed, { protocolVersion: 5 }), 0x87);
    const anonymous = await connect(open, { protocolVersion: 5 });
    await anonymous.endAsync();
  });

  test('MQTT 3.1.1: the same refusals are return codes 0x04 and 0x05', async () => {
    assert.equal(await refusal(closed, { protocolVersion: 4, username: 'alice', password: 'wrong' }), 0x04);
    assert.equal(await refusal(closed, { protocolVersion: 4, username: 'nobody', password: 'x' }), 0x04);
    assert.equal(await refusal(closed, { protocolVersion: 4 }), 0x05);
    const alice = await connect(closed, { protocolVersion: 4, username: 'alice', password: 'wonderland' });
    await alice.endAsync();
  });

  test('[MQTT-3.2.2-8] [MQTT-3.2.2-5] after a refusing CONNACK the broker closes the connection (5.0 and 3.1.1)', async () => {
    const port = running.listeners[1]!.address().port;
    const v5 = decodePacket(await rawConnect(port, connectPacket(5, 'alice', 'wrong')), 5);
    assert.deepEqual([v5.type, v5.type === 'connack' && v5.reasonCode], ['connack', 0x86]);
    const v4 = decodePacket(await rawConnect(port, connectPacket(4)), 4);
    assert.deepEqual([v4.type, v4.type === 'connack' && v4.reasonCode], ['connack', 0x05]);
  });

  test('mosquitto_pub -u -P: a wrong password is refused on both protocol levels, the right one publishes', async (t) => {
    if (!hasMosquittoClients) {
      t.skip('mosquitto_pub not installed');
      return;
    }
    const port = String(running.listeners[1]!.address().port);
    const base = ['-h', '127.0.0.1', '-p', port, '-t', 'greetings', '-m', 'hello'];
    const v5 = await run('mosquitto_pub', [...base, '-V', 'mqttv5', '-u', 'alice', '-P', 'wrong']);
    assert.notEqual(v5.code, 0);
    assert.match(v5.stderr, /bad user name or password/i);
    const v311 = await run('mosquitto_pub', [...base, '-V', 'mqttv311', '-u', 'alice', '-P', 'wrong']);
    assert.notEqual(v311.code, 0);
    assert.match(v311.stderr, /bad user name or password/i);
    const anonymous = await run('mosquitto_pub', [...base, '-V', 'mqttv311']);
    assert.notEqual(anonymous.code, 0);
    assert.match(anonymous.stderr, /not authori[sz]ed/i);

    const subscriber = await connect(closed, { protocolVersion: 5, username: 'alice', password: 'wonderland' });
    try {
      const inbox = collect(subscriber);
      await subscriber.subscribeAsync('greetings');
      const good = await run('mosquitto_pub', [...base, '-V', 'mqttv5', '-u', 'alice', '-P', 'wonderland']);
      assert.equal(good.code, 0, good.stderr);
      await inbox.waitFor(1);
      assert.deepEqual(inbox.messages, [{ topic: 'greetings', payload: 'hello', retain: false }]);
    } finally {
      await subscriber.endAsync();
    }
  });
});

describe('anonymous clients by listener address', () => {
  test('the default refuses anonymous clients on every non-loopback address and allows them on loopback', () => {
    for (const host of ['0.0.0.0', '::', '192.0.2.10', '10.1.2.3', 'broker.example.com', '::ffff:192.0.2.10']) {
      assert.equal(listenerAuthPolicy({ host }, undefined).allowAnonymous, false, host);
    }
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) {
      assert.equal(listenerAuthPolicy({ host }, undefined).allowAnonymous, true, host);
    }
  });

  test('auth.allowAnonymous changes the default; a listener setting wins over both', () => {
    assert.equal(listenerAuthPolicy({ host: '0.0.0.0' }, true).allowAnonymous, true);
    assert.equal(listenerAuthPolicy({ host: '127.0.0.1' }, false).allowAnonymous, false);
    assert.equal(listenerAuthPolicy({ host: '0.0.0.0', allowAnonymous: true }, false).allowAnonymous, true);
    assert.equal(listenerAuthPolicy({ host: '127.0.0.1', allowAnonymous: false }, true).allowAnonymous, false);
  });

  test('a loopback listener without settings accepts anonymous clients; auth.allowAnonymous false refuses them', async () => {
    const permissive = await start({ listeners: [{ port: 0 }] });
    const strict = await start({ listeners: [{ port: 0 }], auth: { allowAnonymous: false } });
    try {
      const client = await connect(urlOf(permissive), { protocolVersion: 5 });
      await client.endAsync();
      assert.equal(await refusal(urlOf(strict), { protocolVersion: 5 }), 0x87);
      assert.equal(await refusal(urlOf(strict), { protocolVersion: 4 }), 0x05);
      // Without a password file nothing verifies a name: a made-up one does not pass for a login.
      assert.equal(await refusal(urlOf(strict), { protocolVersion: 5, username: 'admin', password: 'x' }), 0x87);
    } finally {
      await permissive.close();
      await strict.close();
    }
  });
});

describe('repeated login failures from one address', () => {
  test('after the free failures each CONNACK is held back by a growing delay; a success clears the record', async () => {
    const waits: Array<{ ms: number; release: () => void }> = [];
    let waitStarted = deferred();
    const sleep = (ms: number) => {
      const done = deferred();
      waits.push({ ms, release: () => done.resolve() });
      waitStarted.resolve();
      return done.promise;
    };
    const running = await start({ listeners: [{ port: 0, allowAnonymous: false }], auth: { passwordFile } }, { sleep });
    const url = urlOf(running);
    const wrong = { protocolVersion: 5 as const, username: 'alice', password: 'wrong' };
    try {
      // FailureThrottle's defaults: 5 free failures, then 250 ms doubled per failure.
      for (let i = 0; i < 5; i++) assert.equal(await refusal(url, wrong), 0x86);
      assert.equal(waits.length, 0, 'the first failures are answered at once');

      const sixth = refusal(url, wrong);
      await waitStarted.promise;
      assert.deepEqual(
        waits.map((w) => w.ms),
        [250],
      );
      let answered = false;
      void sixth.then(() => {
        answered = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(answered, false, 'no CONNACK while the throttle holds the attempt');
      waits[0]!.release();
      assert.equal(await sixth, 0x86);

      waitStarted = deferred();
      const seventh = refusal(url, wrong);
      await waitStarted.promise;
      assert.equal(waits[1]!.ms, 500, 'the delay doubles');
      waits[1]!.release();
      assert.equal(await seventh, 0x86);

      // The right password is held as long as a wrong one (no oracle), then clears the record.
      waitStarted = deferred();
      const good = attempt(url, { protocolVersion: 5, username: 'alice', password: 'wonderland' });
      await waitStarted.promise;
      assert.equal(waits[2]!.ms, 1000);
      waits[2]!.release();
      const accepted = await good;
      assert.ok(accepted.ok);
      await accepted.client.endAsync();
      assert.equal(await refusal(url, wrong), 0x86);
      assert.equal(waits.length, 3, 'after a success the next failure is free again');
    } finally {
      for (const wait of waits) wait.release();
      await running.close();
    }
  });
});
