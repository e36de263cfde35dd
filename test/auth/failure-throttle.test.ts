import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FailureThrottle } from '../../src/auth/failure-throttle.js';

function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

test('after the free failures each further failure doubles the delay, up to the cap', () => {
  const clock = fakeClock();
  const throttle = new FailureThrottle({ clock, freeFailures: 3, baseDelayMs: 100, maxDelayMs: 1000 });
  const delays: number[] = [];
  for (let i = 0; i < 9; i++) {
    delays.push(throttle.delayFor('10.0.0.1'));
    throttle.recordFailure('10.0.0.1');
  }
  assert.deepEqual(delays, [0, 0, 0, 100, 200, 400, 800, 1000, 1000]);
  assert.equal(throttle.delayFor('10.0.0.2'), 0, 'other addresses are not slowed down');
});

test('a success clears the address; failures are forgotten after a quiet period', () => {
  const clock = fakeClock();
  const throttle = new FailureThrottle({ clock, freeFailures: 1, baseDelayMs: 50, forgetAfterMs: 60_000 });
  throttle.recordFailure('a');
  throttle.recordFailure('a');
  assert.equal(throttle.delayFor('a'), 100);
  throttle.recordSuccess('a');
  assert.equal(throttle.delayFor('a'), 0);
  throttle.recordFailure('b');
  throttle.recordFailure('b');
  clock.advance(59_999);
  assert.equal(throttle.delayFor('b'), 100);
  clock.advance(1);
  assert.equal(throttle.delayFor('b'), 0);
  assert.equal(throttle.size, 0);
});

test('the number of tracked addresses is bounded, forgetting the least recently failing', () => {
  const clock = fakeClock();
  const throttle = new FailureThrottle({ clock, freeFailures: 0, baseDelayMs: 10, maxAddresses: 100 });
  for (let i = 0; i < 10_000; i++) throttle.recordFailure(`10.0.${i >> 8}.${i & 255}`);
  assert.equal(throttle.size, 100);
  assert.equal(throttle.delayFor('10.0.0.0'), 0, 'the oldest addresses were forgotten');
  assert.equal(throttle.delayFor('10.0.39.15'), 20, 'the newest is still tracked (one failure beyond none free)');
});
