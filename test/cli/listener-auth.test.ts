import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuthenticateRequest, Authenticator } from '../../src/auth/types.js';
import { type ListenerAuthPolicy, ListenerPolicyAuthenticator } from '../../src/cli/listener-auth.js';

const request = (extra: Partial<AuthenticateRequest> = {}): AuthenticateRequest => ({
  clientId: 'c',
  protocolVersion: 5,
  ...extra,
});

/** Accepts alice/secret only, and records what it was asked. */
function passwords(): Authenticator & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    authenticate(r) {
      asked.push(r.username ?? '(none)');
      return r.username === 'alice' && r.password?.toString() === 'secret'
        ? { ok: true }
        : { ok: false, reasonCode: 0x86 };
    },
  };
}

const policies = new Map<string, ListenerAuthPolicy>([
  ['local', { allowAnonymous: true, certificateIdentity: false }],
  ['public', { allowAnonymous: false, certificateIdentity: false }],
  ['devices', { allowAnonymous: false, certificateIdentity: true }],
]);

test('anonymous clients are accepted only where the listener allows them (0x87 elsewhere)', async () => {
  const auth = new ListenerPolicyAuthenticator(policies, passwords());
  assert.deepEqual(await auth.authenticate(request({ listener: 'local' })), { ok: true });
  assert.deepEqual(await auth.authenticate(request({ listener: 'public' })), { ok: false, reasonCode: 0x87 });
});

test('unknown listeners (embedding) fall back to the loopback rule, or to the global setting', async () => {
  const byLoopback = new ListenerPolicyAuthenticator(policies, undefined);
  assert.deepEqual(await byLoopback.authenticate(request({ loopbackOnly: true })), { ok: true });
  assert.deepEqual(await byLoopback.authenticate(request({ loopbackOnly: false, remoteAddress: '10.0.0.9' })), {
    ok: false,
    reasonCode: 0x87,
  });
  const open = new ListenerPolicyAuthenticator(policies, undefined, true);
  assert.deepEqual(await open.authenticate(request({ loopbackOnly: false })), { ok: true });
});

test('with a password file, usernames are checked on every listener', async () => {
  const checker = passwords();
  const auth = new ListenerPolicyAuthenticator(policies, checker);
  const alice = { username: 'alice', password: Buffer.from('secret') };
  assert.deepEqual(await auth.authenticate(request({ listener: 'public', ...alice })), { ok: true });
  assert.deepEqual(
    await auth.authenticate(request({ listener: 'local', username: 'alice', password: Buffer.from('x') })),
    {
      ok: false,
      reasonCode: 0x86,
    },
  );
  assert.deepEqual(checker.asked, ['alice', 'alice']);
});

test('without a password file, a made-up username is treated as anonymous', async () => {
  const auth = new ListenerPolicyAuthenticator(policies, undefined);
  const mallory = { username: 'mallory', password: Buffer.from('anything') };
  assert.deepEqual(await auth.authenticate(request({ listener: 'public', ...mallory })), {
    ok: false,
    reasonCode: 0x87,
  });
  assert.deepEqual(await auth.authenticate(request({ listener: 'local', ...mallory })), { ok: true });
});

test('certificate identity: the verified CN is the username, and no certificate is refused', async () => {
  const checker = passwords();
  const auth = new ListenerPolicyAuthenticator(policies, checker);
  assert.deepEqual(
    await auth.authenticate(request({ listener: 'devices', certificateCommonName: 'device-42', username: 'spoof' })),
    { ok: true, username: 'device-42' },
  );
  assert.deepEqual(await auth.authenticate(request({ listener: 'devices', username: 'alice' })), {
    ok: false,
    reasonCode: 0x87,
  });
  assert.deepEqual(checker.asked, [], 'the password file is not consulted for certificate identities');
});
