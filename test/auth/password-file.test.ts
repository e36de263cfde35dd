import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FailureThrottle } from '../../src/auth/failure-throttle.js';
import {
  PasswordFileAuthenticator,
  parsePasswordFile,
  readPasswordFile,
  writePasswordFile,
} from '../../src/auth/password-file.js';
import { hashPassword } from '../../src/auth/password-hash.js';
import type { AuthenticateRequest } from '../../src/auth/types.js';
import { MqttError } from '../../src/protocol/errors.js';

const fast = { N: 1024, r: 8, p: 1 };
let dir: string;
let aliceHash: string;
let bobHash: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'starling-passwd-'));
  aliceHash = await hashPassword('alice-pw', fast);
  bobHash = await hashPassword('bob-pw', fast);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const request = (username?: string, password?: string, remoteAddress = '127.0.0.1'): AuthenticateRequest => ({
  clientId: 'c1',
  protocolVersion: 5,
  remoteAddress,
  ...(username !== undefined ? { username } : {}),
  ...(password !== undefined ? { password: Buffer.from(password) } : {}),
});

test('parsePasswordFile reads user:hash lines, skipping comments and blank lines', () => {
  const entries = parsePasswordFile(`# users\n\nalice:${aliceHash}\r\n  bob:${bobHash}  \n`);
  assert.deepEqual([...entries.keys()], ['alice', 'bob']);
  assert.equal(entries.get('bob'), bobHash);
});

test('parsePasswordFile names the line of a malformed entry', () => {
  const cases: [string, RegExp][] = [
    [`alice:${aliceHash}\nbob\n`, /pw line 2: expected username:hash/],
    [`alice:${aliceHash}\n:${bobHash}\n`, /pw line 2/],
    [`\n\nalice:plaintext\n`, /pw line 3: .*alice.*hash/],
    [`alice:${aliceHash}\nalice:${bobHash}\n`, /pw line 2: .*twice/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parsePasswordFile(text, 'pw'),
      (err) => err instanceof MqttError && message.test(err.message),
      text,
    );
  }
});

test('writePasswordFile writes a file only its owner can read, and it reads back', async () => {
  const path = join(dir, 'written.txt');
  await writePasswordFile(path, new Map([['alice', aliceHash]]));
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.deepEqual([...(await readPasswordFile(path))], [['alice', aliceHash]]);
});

test('a user with the right password is accepted; wrong or missing credentials get 0x86', async () => {
  const path = join(dir, 'auth.txt');
  await writeFile(path, `alice:${aliceHash}\nbob:${bobHash}\n`);
  const auth = await PasswordFileAuthenticator.load(path, { throttle: false });
  assert.equal(auth.size, 2);
  assert.deepEqual(await auth.authenticate(request('alice', 'alice-pw')), { ok: true });
  assert.deepEqual(await auth.authenticate(request('bob', 'bob-pw')), { ok: true });
  assert.deepEqual(await auth.authenticate(request('alice', 'bob-pw')), { ok: false, reasonCode: 0x86 });
  assert.deepEqual(await auth.authenticate(request('carol', 'alice-pw')), { ok: false, reasonCode: 0x86 });
  assert.deepEqual(await auth.authenticate(request('alice')), { ok: false, reasonCode: 0x86 });
  assert.deepEqual(await auth.authenticate(request('alice', '')), { ok: false, reasonCode: 0x86 });
});

test('anonymous clients get 0x87 unless allowAnonymous', async () => {
  const entries = new Map([['alice', aliceHash]]);
  const closed = new PasswordFileAuthenticator(entries, { throttle: false });
  assert.deepEqual(await closed.authenticate(request()), { ok: false, reasonCode: 0x87 });
  const open = new PasswordFileAuthenticator(entries, { throttle: false, allowAnonymous: true });
  assert.deepEqual(await open.authenticate(request()), { ok: true });
  // Allowing anonymous clients does not let anyone in with an unknown or wrong username.
  assert.deepEqual(await open.authenticate(request('mallory', 'x')), { ok: false, reasonCode: 0x86 });
  // MQTT 5 allows a password without a username; it is not a valid login here.
  assert.deepEqual(await open.authenticate(request(undefined, 'x')), { ok: false, reasonCode: 0x86 });
});

test('an unknown user costs as much as a known one, so timing does not reveal who exists', async () => {
  // A real (default-cost) hash for the known user, as `starling passwd` writes it.
  const auth = new PasswordFileAuthenticator(new Map([['alice', await hashPassword('alice-pw')]]), { throttle: false });
  const time = async (username: string) => {
    const start = process.hrtime.bigint();
    await auth.authenticate(request(username, 'wrong'));
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
  await time('alice'); // warm up
  const known = Math.min(await time('alice'), await time('alice'), await time('alice'));
  const unknown = Math.min(await time('nobody'), await time('nobody'), await time('nobody'));
  // Generous bounds: the point is that the unknown path is not near-instant.
  assert.ok(unknown > known / 3, `unknown user ${unknown} ms vs known ${known} ms`);
});

test('reload picks up changes and keeps the old users when the new file is broken', async () => {
  const path = join(dir, 'reload.txt');
  await writeFile(path, `alice:${aliceHash}\n`);
  const auth = await PasswordFileAuthenticator.load(path, { throttle: false });
  assert.deepEqual(await auth.authenticate(request('bob', 'bob-pw')), { ok: false, reasonCode: 0x86 });
  await writeFile(path, `bob:${bobHash}\n`);
  await auth.reload();
  assert.deepEqual(await auth.authenticate(request('bob', 'bob-pw')), { ok: true });
  assert.deepEqual(await auth.authenticate(request('alice', 'alice-pw')), { ok: false, reasonCode: 0x86 });
  await writeFile(path, `bob:${bobHash}\nbroken line\n`);
  await assert.rejects(auth.reload(), (err) => err instanceof MqttError && /line 2/.test(err.message));
  assert.deepEqual(await auth.authenticate(request('bob', 'bob-pw')), { ok: true });
  await rm(path);
  await assert.rejects(auth.reload(), MqttError);
  assert.deepEqual(await auth.authenticate(request('bob', 'bob-pw')), { ok: true });
});

test('load fails clearly for a missing file', async () => {
  await assert.rejects(PasswordFileAuthenticator.load(join(dir, 'missing.txt')), (err) => {
    return (
      err instanceof MqttError &&
      /missing\.txt/.test(err.message) &&
      (err.cause as NodeJS.ErrnoException).code === 'ENOENT'
    );
  });
});

test('repeated failures from one address are slowed down; a success clears them', async () => {
  let now = 0;
  const throttle = new FailureThrottle({ clock: { now: () => now }, freeFailures: 2, baseDelayMs: 100 });
  const slept: number[] = [];
  const auth = new PasswordFileAuthenticator(new Map([['alice', aliceHash]]), {
    throttle,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  });
  for (let i = 0; i < 4; i++) await auth.authenticate(request('alice', 'guess', '192.0.2.7'));
  assert.deepEqual(slept, [100, 200]);
  await auth.authenticate(request('alice', 'guess', '192.0.2.8'));
  assert.deepEqual(slept, [100, 200], 'another address is not slowed down');
  assert.deepEqual(await auth.authenticate(request('alice', 'alice-pw', '192.0.2.7')), { ok: true });
  assert.deepEqual(slept, [100, 200, 400], 'the right password is still accepted, after the delay');
  await auth.authenticate(request('alice', 'guess', '192.0.2.7'));
  assert.deepEqual(slept, [100, 200, 400], 'the success cleared the record');
});

test('a password file from mosquitto_passwd loads and authenticates', async () => {
  const path = join(dir, 'mosquitto.txt');
  await writeFile(
    path,
    'alice:$7$101$+N8k7cuLW+KJPxWm$HtxLPImZgeuCc+/YDKTQMqSOZDnZv1iBfxBnQP7XUZnbA1Fpa6JUdL5pKHtfXMhlIdLOGkGq9hiqC8s0QlQc8A==\n',
  );
  const auth = await PasswordFileAuthenticator.load(path, { throttle: false });
  assert.deepEqual(await auth.authenticate(request('alice', 'secret')), { ok: true });
  assert.deepEqual(await auth.authenticate(request('alice', 'secreT')), { ok: false, reasonCode: 0x86 });
});
