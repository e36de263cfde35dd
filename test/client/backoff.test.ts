import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, resolveReconnectOptions } from '../../src/client/backoff.js';

test('reconnect delays grow exponentially up to maxDelay without jitter', () => {
  const options = resolveReconnectOptions({ initialDelay: 100, maxDelay: 1000, multiplier: 2, jitter: 0 });
  const delays = [0, 1, 2, 3, 4, 5, 100].map((attempt) => backoffDelay(attempt, options, () => 0.5));
  assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000, 1000]);
});

test('jitter only shortens the delay, by at most the jitter share', () => {
  const options = resolveReconnectOptions({ initialDelay: 1000, maxDelay: 8000, jitter: 0.5 });
  for (let attempt = 0; attempt < 10; attempt++) {
    const ceiling = Math.min(1000 * 2 ** attempt, 8000);
    assert.equal(
      backoffDelay(attempt, options, () => 0),
      ceiling,
    );
    assert.equal(
      backoffDelay(attempt, options, () => 0.999999),
      Math.round(ceiling * (1 - 0.5 * 0.999999)),
    );
    const delay = backoffDelay(attempt, options, Math.random);
    assert.ok(delay >= ceiling / 2 && delay <= ceiling, `attempt ${attempt}: ${delay}`);
  }
});

test('reconnect options are clamped to sane values', () => {
  const options = resolveReconnectOptions({ initialDelay: 500, maxDelay: 10, multiplier: 0.1, jitter: 3 });
  assert.equal(options.maxDelay, 500);
  assert.equal(options.multiplier, 1);
  assert.equal(options.jitter, 1);
  assert.equal(options.maxAttempts, Number.POSITIVE_INFINITY);
  assert.equal(
    backoffDelay(1e9, resolveReconnectOptions({}), () => 0),
    30_000,
  );
});
