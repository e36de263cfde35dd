import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { ConnectionLimitsAuthenticator } from '../../src/auth/connection-limits.js';
import type { AuthenticateRequest, AuthenticateResult, Authenticator } from '../../src/auth/types.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { createLogger } from '../../src/util/logger.js';

function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function request(remoteAddress: string | undefined, extra: Partial<AuthenticateRequest> = {}): AuthenticateRequest {
  return { clientId: 'c', protocolVersion: 5, ...(remoteAddress ? { remoteAddress } : {}), ...extra };
}

/** An inner authenticator that counts its calls and accepts everyone. */
function countingInner(): Authenticator & { calls: number } {
  const inner = {
    calls: 0,
    authenticate: (): AuthenticateResult => {
      inner.calls++;
      return { ok: true };
    },
  };
  return inner;
}

test('more CONNECTs per second than the rate from one address get 0x9F; other addresses are not affected', async () => {
  const clock = fakeClock();
  const inner = countingInner();
  const limits = new ConnectionLimitsAuthenticator(inner, { maxConnectionRate: 3, clock });
  const results: AuthenticateResult[] = [];
  for (let i = 0; i < 5; i++) results.push(await limits.authenticate(request('10.0.0.1')));
  assert.deepEqual(results, [
    { ok: true },
    { ok: true },
    { ok: true },
    { ok: false, reasonCode: ReasonCode.ConnectionRateExceeded },
    { ok: false, reasonCode: ReasonCode.ConnectionRateExceeded },
  ]);
  assert.equal(inner.calls, 3, 'a refused CONNECT never reaches the password check');
  assert.equal(limits.stats.refusedRate, 2);
  assert.deepEqual(await limits.authenticate(request('10.0.0.2')), { ok: true });
});

test('the rate refills with time: a third of a second gives back one of three tokens', async () => {
  const clock = fakeClock();
  const limits = new ConnectionLimitsAuthenticator(countingInner(), { maxConnectionRate: 3, clock });
  for (let i = 0; i < 3; i++) assert.equal((await limits.authenticate(request('10.0.0.1'))).ok, true);
  assert.equal((await limits.authenticate(request('10.0.0.1'))).ok, false);
  clock.advance(340);
  assert.equal((await limits.authenticate(request('10.0.0.1'))).ok, true);
  assert.equal((await limits.authenticate(request('10.0.0.1'))).ok, false);
  clock.advance(10_000);
  // The bucket holds at most one second's worth, however long the address was quiet.
  for (let i = 0; i < 3; i++) assert.equal((await limits.authenticate(request('10.0.0.1'))).ok, true);
  assert.equal((await limits.authenticate(request('10.0.0.1'))).ok, false);
});

test('loopback addresses are exempt when asked; connections without an address are never rate limited', async () => {
  const clock = fakeClock();
  const limits = new ConnectionLimitsAuthenticator(countingInner(), {
    maxConnectionRate: 1,
    exemptLoopback: true,
    clock,
  });
  for (const address of ['127.0.0.1', '::1', '::ffff:127.0.0.1', undefined]) {
    for (let i = 0; i < 5; i++) assert.equal((await limits.authenticate(request(address))).ok, true, String(address));
  }
  assert.equal((await limits.authenticate(request('192.0.2.7'))).ok, true);
  assert.equal((await limits.authenticate(request('192.0.2.7'))).ok, false);
  const strict = new ConnectionLimitsAuthenticator(countingInner(), { maxConnectionRate: 1, clock });
  assert.equal((await strict.authenticate(request('127.0.0.1'))).ok, true);
  assert.equal((await strict.authenticate(request('127.0.0.1'))).ok, false, 'without the exemption loopback counts');
});

test('the tracked addresses are bounded: the least recently seen is forgotten first', async () => {
  const clock = fakeClock();
  const limits = new ConnectionLimitsAuthenticator(countingInner(), { maxConnectionRate: 1, maxAddresses: 100, clock });
  for (let i = 0; i < 1000; i++) await limits.authenticate(request(`10.0.${i >> 8}.${i & 255}`));
  assert.equal(limits.trackedAddresses, 100);
  // 10.0.0.0 was forgotten, so it starts with a full bucket again; the most recent one did not.
  assert.equal((await limits.authenticate(request('10.0.0.0'))).ok, true);
  assert.equal((await limits.authenticate(request('10.0.3.231'))).ok, false);
});

test('maxClients: a CONNECT when the broker is full gets 0x97 without reaching the password check', async () => {
  const clock = fakeClock();
  let connected = 2;
  const inner = countingInner();
  const limits = new ConnectionLimitsAuthenticator(inner, { maxClients: 3, connectedClients: () => connected, clock });
  assert.deepEqual(await limits.authenticate(request('10.0.0.1')), { ok: true });
  connected = 3;
  assert.deepEqual(await limits.authenticate(request('10.0.0.1')), {
    ok: false,
    reasonCode: ReasonCode.QuotaExceeded,
  });
  assert.equal(inner.calls, 1);
  assert.equal(limits.stats.refusedQuota, 1);
  connected = 2;
  assert.deepEqual(await limits.authenticate(request('10.0.0.1')), { ok: true }, 'a client that left frees a place');
});

test('maxClients: authentications under way hold a place, so a burst cannot overshoot the cap', async () => {
  const clock = fakeClock();
  const releases: Array<() => void> = [];
  const slow: Authenticator = {
    authenticate: () => new Promise<AuthenticateResult>((resolve) => releases.push(() => resolve({ ok: true }))),
  };
  const limits = new ConnectionLimitsAuthenticator(slow, { maxClients: 2, connectedClients: () => 0, clock });
  const first = limits.authenticate(request('10.0.0.1'));
  const second = limits.authenticate(request('10.0.0.2'));
  assert.deepEqual(await limits.authenticate(request('10.0.0.3')), { ok: false, reasonCode: ReasonCode.QuotaExceeded });
  for (const release of releases) release();
  assert.deepEqual(await Promise.all([first, second]), [{ ok: true }, { ok: true }]);
  // Done (and, as far as this test's broker knows, gone again): places are free.
  const third = limits.authenticate(request('10.0.0.3'));
  releases[2]!();
  assert.deepEqual(await third, { ok: true });
});

test('an inner authenticator that throws or rejects is passed through, releasing its place', async () => {
  const clock = fakeClock();
  const failing: Authenticator = {
    authenticate: () => {
      throw new Error('boom');
    },
  };
  const limits = new ConnectionLimitsAuthenticator(failing, { maxClients: 1, connectedClients: () => 0, clock });
  assert.throws(() => limits.authenticate(request('10.0.0.1')), /boom/);
  const rejecting: Authenticator = { authenticate: () => Promise.reject(new Error('down')) };
  const limits2 = new ConnectionLimitsAuthenticator(rejecting, { maxClients: 1, connectedClients: () => 0, clock });
  await assert.rejects(Promise.resolve(limits2.authenticate(request('10.0.0.1'))), /down/);
  await assert.rejects(Promise.resolve(limits2.authenticate(request('10.0.0.1'))), /down/, 'the place was released');
});

test('maxClients without a way to count clients is a programming error', () => {
  assert.throws(
    () => new ConnectionLimitsAuthenticator(countingInner(), { maxClients: 1, clock: fakeClock() }),
    TypeError,
  );
});

test('refusals are logged at most once per kind every 10 s, with the number refused since the last line', async () => {
  const clock = fakeClock();
  const lines: Array<{ msg: string; refused: number; remoteAddress?: string }> = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(JSON.parse(String(chunk)));
      callback();
    },
  });
  const logger = createLogger('warn', destination);
  const limits = new ConnectionLimitsAuthenticator(countingInner(), { maxConnectionRate: 1, clock, logger });
  for (let i = 0; i < 6; i++) await limits.authenticate(request('10.0.0.1'));
  clock.advance(10_000);
  // The bucket refilled by now, so the first one passes and the next one is refused.
  for (let i = 0; i < 2; i++) await limits.authenticate(request('10.0.0.2'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(
    lines.map(({ msg, refused, remoteAddress }) => ({ msg, refused, remoteAddress })),
    [
      { msg: 'CONNECT refused: connection rate exceeded (0x9F)', refused: 1, remoteAddress: '10.0.0.1' },
      { msg: 'CONNECT refused: connection rate exceeded (0x9F)', refused: 5, remoteAddress: '10.0.0.2' },
    ],
  );
  assert.equal(limits.stats.refusedRate, 6);
});

test('maxClients: a client that takes over its own connected session passes the cap (it adds no client)', async () => {
  const clock = fakeClock();
  const limits = new ConnectionLimitsAuthenticator(countingInner(), {
    maxClients: 1,
    connectedClients: () => 1,
    isConnected: (clientId) => clientId === 'sensor-1',
    clock,
  });
  assert.deepEqual(await limits.authenticate(request('10.0.0.1', { clientId: 'sensor-1' })), { ok: true });
  assert.deepEqual(await limits.authenticate(request('10.0.0.1', { clientId: 'sensor-2' })), {
    ok: false,
    reasonCode: ReasonCode.QuotaExceeded,
  });
});
