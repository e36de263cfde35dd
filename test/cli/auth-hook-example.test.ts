import assert from 'node:assert/strict';
import { test } from 'node:test';
import { httpAuthenticator, runAuthHookExample, startDemoAuthService } from '../../examples/auth-hook.js';

test('examples/auth-hook runs: the HTTP service admits alice and refuses mallory', async () => {
  const lines: string[] = [];
  await runAuthHookExample((line) => lines.push(line));
  assert.deepEqual(lines, ['alice: connected', 'mallory: refused (Connection refused: Bad username or password)']);
});

test('the HTTP authenticator refuses with 0x88 when the service does not answer', async () => {
  const { server, url } = await startDemoAuthService();
  server.close();
  const result = await httpAuthenticator(url, { timeoutMs: 500 }).authenticate({
    clientId: 'c',
    username: 'alice',
    password: Buffer.from('wonderland'),
    protocolVersion: 5,
  });
  assert.deepEqual(result, { ok: false, reasonCode: 0x88 });
});
