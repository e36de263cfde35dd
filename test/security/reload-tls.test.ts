import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { hashPassword } from '../../src/auth/password-hash.js';
import { startBrokerProcess } from '../cli/broker-process.js';
import { testCertificates } from '../helpers/certs.js';
import { connect, hasMosquittoClients, refusal, run, start, urlOf } from './helpers.js';

const FAST = { N: 1024, r: 8, p: 1 };

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'starling-security-reload-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The SUBACK reason code for one filter. */
async function granted(client: MqttClient, filter: string): Promise<number> {
  try {
    return (await client.subscribeAsync(filter))[0]!.qos;
  } catch (error) {
    return (error as { packet: { granted: number[] } }).packet.granted[0]!;
  }
}

/** Waits, bounded, until `text()` holds `count` matches of `pattern`. */
async function occurrences(text: () => string, pattern: RegExp, count: number, timeoutMs = 10_000): Promise<void> {
  const global = new RegExp(pattern.source, 'g');
  const deadline = Date.now() + timeoutMs;
  while ((text().match(global) ?? []).length < count) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${count} x ${pattern}:\n${text()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('SIGHUP reload of the password and ACL files, in the starling process', () => {
  test('each file is reloaded on its own: a broken or missing one keeps its old content, the other one changes', async () => {
    const passwordFile = join(dir, 'passwords');
    const aclFile = join(dir, 'acl');
    const alice = `alice:${await hashPassword('wonderland', FAST)}\n`;
    const bob = `bob:${await hashPassword('builder', FAST)}\n`;
    await writeFile(passwordFile, alice);
    await writeFile(aclFile, 'user alice\ntopic read public/#\nuser bob\ntopic read public/#\n');
    const { broker, port } = await startBrokerProcess([
      '--password-file',
      passwordFile,
      '--acl-file',
      aclFile,
      '--no-allow-anonymous',
    ]);
    const url = `mqtt://127.0.0.1:${port}`;
    const clients: MqttClient[] = [];
    try {
      const first = await connect(url, { protocolVersion: 5, username: 'alice', password: 'wonderland' });
      clients.push(first);
      assert.equal(await granted(first, 'secret/#'), 0x87);

      // A valid password file with a broken ACL: bob may log in, the old rules stay.
      await writeFile(passwordFile, alice + bob);
      await writeFile(aclFile, 'user alice\ntopic read public/#\ntopic read secret/#\nthis is not an ACL line\n');
      broker.child.kill('SIGHUP');
      await occurrences(broker.stdout, /ACL file .* reload failed, the previous one stays in force/, 1);
      await occurrences(broker.stdout, /password file .* reloaded/, 1);
      const bobClient = await connect(url, { protocolVersion: 5, username: 'bob', password: 'builder' });
      clients.push(bobClient);
      assert.equal(await granted(first, 'secret/#'), 0x87, 'the broken ACL did not open secret/#');
      assert.equal(await granted(bobClient, 'public/#'), 0);

      // A missing password file with a valid ACL: the users stay, the new rules apply.
      await unlink(passwordFile);
      await writeFile(aclFile, 'user alice\ntopic read public/#\ntopic read secret/#\n');
      broker.child.kill('SIGHUP');
      await occurrences(broker.stdout, /password file .* reload failed, the previous one stays in force/, 1);
      await occurrences(broker.stdout, /ACL file .* reloaded/, 1);
      assert.equal(await granted(first, 'secret/#'), 0);
      assert.equal(await granted(bobClient, 'public/#'), 0x87, 'bob has no rule in the new ACL');
      const again = await connect(url, { protocolVersion: 5, username: 'bob', password: 'builder' });
      clients.push(again);
      assert.equal(await refusal(url, { protocolVersion: 5, username: 'bob', password: 'wrong' }), 0x86);
      assert.equal(first.connected, true, 'reloads keep connections');
    } finally {
      await Promise.all(clients.map((c) => c.endAsync(true)));
      broker.child.kill('SIGTERM');
      await broker.exited();
    }
  });
});

describe('TLS with username and password', () => {
  test('mosquitto_sub --cafile -u -P receives over mqtts; a wrong password is refused', async (t) => {
    if (!hasMosquittoClients) {
      t.skip('mosquitto_sub not installed');
      return;
    }
    const certs = await testCertificates();
    const passwordFile = join(dir, 'tls-passwords');
    await writeFile(passwordFile, `alice:${await hashPassword('wonderland', FAST)}\n`);
    const running = await start({
      listeners: [
        {
          port: 0,
          protocol: 'mqtts',
          allowAnonymous: false,
          tls: { cert: certs.serverCert, key: certs.serverKey },
        },
      ],
      auth: { passwordFile },
    });
    const url = urlOf(running);
    const port = String(running.listeners[0]!.address().port);
    const ca = readFileSync(certs.caCert);
    const tlsArgs = ['-h', '127.0.0.1', '-p', port, '--cafile', certs.caCert, '-t', 'secure/#', '-W', '10'];
    try {
      const wrong = await run('mosquitto_sub', [...tlsArgs, '-V', 'mqttv311', '-u', 'alice', '-P', 'nope', '-C', '1']);
      assert.notEqual(wrong.code, 0);
      assert.match(wrong.stderr, /bad user name or password/i);

      const subscribed = new Promise<void>((resolve) => running.broker.once('subscribed', () => resolve()));
      const sub = run('mosquitto_sub', [
        ...tlsArgs,
        '-V',
        'mqttv5',
        '-u',
        'alice',
        '-P',
        'wonderland',
        '-C',
        '1',
        '-v',
      ]);
      await subscribed;
      const publisher = await connect(url, { protocolVersion: 5, ca, username: 'alice', password: 'wonderland' });
      await publisher.publishAsync('secure/door', 'locked', { qos: 1 });
      await publisher.endAsync();
      const received = await sub;
      assert.equal(received.code, 0, received.stderr);
      assert.equal(received.stdout, 'secure/door locked\n');
    } finally {
      await running.close();
    }
  });
});
