import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { loadCommand, main } from '../../src/cli/main.js';
import { memoryIo } from './io.js';

function io() {
  const captured = memoryIo();
  return { io: { ...captured, env: {}, signals: new EventEmitter() }, out: captured.out, err: captured.err };
}

test('a command whose module is missing is reported, not a crash', async () => {
  assert.equal(await loadCommand('./no-such-command.js', 'runNothing'), undefined);
  assert.equal(await loadCommand('./passwd.js', 'noSuchExport'), undefined);
  assert.equal(typeof (await loadCommand('./passwd.js', 'runPasswd')), 'function');
});

test('starling with no arguments prints the usage and exits 0', async () => {
  const t = io();
  assert.equal(await main([], t.io), 0);
  assert.match(t.out(), /Usage: starling/);
});

test('starling broker runs in-process: SIGTERM on the injected signal source stops it with 0', async () => {
  const t = io();
  const exit = main(['broker', '--port', '0', '--no-persistence', '--log-level', 'info'], t.io);
  for (let i = 0; i < 200 && !/listening on/.test(t.out()); i++) await new Promise((r) => setTimeout(r, 10));
  assert.match(t.out(), /listening on mqtt:\/\/127\.0\.0\.1:\d+ \(anonymous allowed\)/);
  t.io.signals.emit('SIGTERM');
  assert.equal(await exit, 0);
  assert.equal(t.io.signals.listenerCount('SIGTERM'), 0, 'signal handlers removed');
});

test('starling broker with an invalid flag value exits 2 with the key on stderr', async () => {
  const t = io();
  assert.equal(await main(['broker', '--log-level', 'loud'], t.io), 2);
  assert.match(t.err(), /--log-level/);
});
