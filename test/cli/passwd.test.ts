import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { PasswordFileAuthenticator } from '../../src/auth/password-file.js';
import { runPasswd } from '../../src/cli/passwd.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'starling-passwd-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `starling passwd` with the given stdin text (or a fake terminal) and captures its output. */
async function passwd(argv: string[], input?: string | string[], tty = false) {
  const stdin = new PassThrough() as PassThrough & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  const rawModes: boolean[] = [];
  if (tty) {
    stdin.isTTY = true;
    stdin.setRawMode = (raw: boolean) => rawModes.push(raw);
  }
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const pending = runPasswd(argv, { stdin, stdout, stderr });
  // Keystrokes arrive one chunk at a time, as from a terminal.
  for (const chunk of Array.isArray(input) ? input : input !== undefined ? [input] : []) {
    await new Promise((resolve) => setImmediate(resolve));
    stdin.write(chunk);
  }
  if (!tty) stdin.end();
  const code = await pending;
  return { code, out, err, rawModes };
}

async function login(file: string, username: string, password: string): Promise<boolean> {
  const auth = await PasswordFileAuthenticator.load(file, { throttle: false });
  const result = await auth.authenticate({
    clientId: 'c',
    protocolVersion: 4,
    username,
    password: Buffer.from(password),
  });
  return result.ok;
}

test('-c -b creates a file readable only by its owner; the broker accepts the password', async () => {
  const file = join(dir, 'create.txt');
  const { code, err } = await passwd(['-c', '-b', file, 'alice', 'pw-a']);
  assert.equal(code, 0, err);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.match(await readFile(file, 'utf8'), /^alice:\$scrypt\$N=16384,r=8,p=1\$/);
  assert.equal(await login(file, 'alice', 'pw-a'), true);
  assert.equal(await login(file, 'alice', 'pw-b'), false);
});

test('-b adds users and changes passwords in an existing file; -D deletes; -c overwrites', async () => {
  const file = join(dir, 'update.txt');
  assert.equal((await passwd(['-cb', file, 'alice', 'one'])).code, 0);
  assert.equal((await passwd(['-b', file, 'bob', 'two'])).code, 0);
  assert.equal((await passwd(['-b', file, 'alice', 'three'])).code, 0);
  assert.equal(await login(file, 'alice', 'three'), true);
  assert.equal(await login(file, 'alice', 'one'), false);
  assert.equal(await login(file, 'bob', 'two'), true);
  assert.equal((await passwd(['-D', file, 'bob'])).code, 0);
  assert.equal(await login(file, 'bob', 'two'), false);
  assert.equal(await login(file, 'alice', 'three'), true);
  const missing = await passwd(['-D', file, 'bob']);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /user bob not found/);
  assert.equal((await passwd(['-c', '-b', file, 'carol', 'four'])).code, 0);
  assert.deepEqual(
    (await readFile(file, 'utf8')).split('\n').map((l) => l.split(':')[0]),
    ['carol', ''],
  );
});

test('without -b the password is read from stdin lines and must be confirmed', async () => {
  const file = join(dir, 'stdin.txt');
  assert.equal((await passwd(['-c', file, 'alice'], 'pipe-pw\npipe-pw\n')).code, 0);
  assert.equal(await login(file, 'alice', 'pipe-pw'), true);
  assert.equal((await passwd([file, 'alice'], 'single-line\n')).code, 0, 'one line from a pipe is enough');
  assert.equal(await login(file, 'alice', 'single-line'), true);
  const mismatch = await passwd([file, 'alice'], 'x1\nx2\n');
  assert.equal(mismatch.code, 1);
  assert.match(mismatch.err, /do not match/);
  assert.equal(await login(file, 'alice', 'single-line'), true, 'the file is unchanged');
  const empty = await passwd([file, 'alice'], '');
  assert.equal(empty.code, 1);
  assert.match(empty.err, /no password/);
});

test('from a terminal the password is typed twice without echo', async () => {
  const file = join(dir, 'tty.txt');
  const typed = await passwd(['-c', file, 'alice'], ['t', 'tx', '\u007f', 'y-pw\r', 'tty-pw\r'], true);
  assert.equal(typed.code, 0, typed.err);
  assert.deepEqual(typed.rawModes, [true, false], 'raw mode (no echo) is switched on and back off');
  assert.match(typed.err, /Password: .*Reenter password: /s);
  assert.doesNotMatch(typed.err + typed.out, /ty-pw/, 'the password is not echoed');
  assert.equal(await login(file, 'alice', 'tty-pw'), true);
  const cancelled = await passwd([file, 'alice'], ['abc', '\u0003'], true);
  assert.equal(cancelled.code, 1);
  assert.deepEqual(cancelled.rawModes, [true, false]);
  assert.equal(await login(file, 'alice', 'tty-pw'), true);
});

test('usage errors exit 2 and refuse to touch files', async () => {
  const file = join(dir, 'usage.txt');
  for (const argv of [
    [],
    [file],
    ['-b', file, 'u'],
    [file, 'u', 'extra'],
    ['-c', '-D', file, 'u'],
    ['-x', file, 'u'],
  ]) {
    const { code, err } = await passwd(argv);
    assert.equal(code, 2, argv.join(' '));
    assert.match(err, /Usage: starling passwd/);
  }
  assert.equal(existsSync(file), false);
  const help = await passwd(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /Usage/);
});

test('a missing file without -c, a bad username or a broken file are reported, not overwritten', async () => {
  const missing = await passwd(['-b', join(dir, 'nope.txt'), 'alice', 'pw']);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /does not exist; use -c/);
  const file = join(dir, 'bad.txt');
  for (const user of ['a:b', '', 'tab\tname']) {
    const r = await passwd(['-c', '-b', file, user, 'pw']);
    assert.equal(r.code, 1, JSON.stringify(user));
    assert.match(r.err, /username/);
  }
  await writeFile(file, 'alice:not-a-hash\n');
  const broken = await passwd(['-b', file, 'bob', 'pw']);
  assert.equal(broken.code, 1);
  assert.match(broken.err, /line 1/);
  assert.equal(await readFile(file, 'utf8'), 'alice:not-a-hash\n');
  const emptyPassword = await passwd(['-c', '-b', join(dir, 'e.txt'), 'u', '']);
  assert.equal(emptyPassword.code, 1);
});

test('a file made by mosquitto_passwd can be updated, keeping its Mosquitto hashes', async (t) => {
  const exec = promisify(execFile);
  const file = join(dir, 'mosquitto.txt');
  try {
    await exec('mosquitto_passwd', ['-c', '-b', file, 'alice', 'from-mosquitto']);
  } catch {
    t.skip('mosquitto_passwd is not installed');
    return;
  }
  assert.equal((await passwd(['-b', file, 'bob', 'from-starling'])).code, 0);
  assert.match(await readFile(file, 'utf8'), /^alice:\$7\$/);
  assert.equal(await login(file, 'alice', 'from-mosquitto'), true);
  assert.equal(await login(file, 'bob', 'from-starling'), true);
});
