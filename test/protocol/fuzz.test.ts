// Fuzz test of the streaming decoder: random bytes and mutations of valid encodings (flipped bits, truncations,
// wrong and overlong remaining lengths, inserted and deleted bytes, spliced packets, huge announced lengths), fed
// whole and in random chunks, at every protocol level. Only MqttError may come out; an internal error that the
// decoder wrapped into a MqttError counts as a failure too, since it is a bug in disguise. Whatever the decoder
// accepts must encode again and decode to the same packet. Memory must stay bounded.
//
// Deterministic: the seed is fixed (override with STARLING_FUZZ_SEED) and printed with any failure. For a deeper run:
// STARLING_FUZZ_CASES=5000000 STARLING_FUZZ_MS=600000 node --test dist/test/protocol/fuzz.test.js

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { Decoder } from '../../src/protocol/decoder.js';
import { encode } from '../../src/protocol/encoder.js';
import { MqttError } from '../../src/protocol/errors.js';
import type { Packet, ProtocolVersion } from '../../src/protocol/packets.js';
import { packet as packetArbitrary } from './arbitrary-packets.js';

const SEED = Number(process.env.STARLING_FUZZ_SEED ?? 0x5ca1ab1e) >>> 0;
const CASES = Number(process.env.STARLING_FUZZ_CASES ?? 300_000);
const TIME_LIMIT_MS = Number(process.env.STARLING_FUZZ_MS ?? 20_000);

/** mulberry32: a small, fast, deterministic PRNG. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
  };
}
type Rng = ReturnType<typeof prng>;

function gc(): void {
  setFlagsFromString('--expose_gc');
  (runInNewContext('gc') as () => void)();
}

/** Encodes a remaining length; `extra` continuation bytes make it non-minimal, more than 3 makes it malformed. */
function varint(value: number, extra = 0): number[] {
  const out: number[] = [];
  let v = value;
  do {
    let byte = v % 128;
    v = Math.floor(v / 128);
    if (v > 0 || extra > 0) byte |= 0x80;
    out.push(byte);
  } while (v > 0);
  for (let i = 0; i < extra; i++) out.push(i === extra - 1 ? 0x00 : 0x80);
  return out;
}

/** Where the body of an encoded packet starts (after the fixed header). */
function bodyOffset(bytes: Buffer): number {
  let i = 1;
  while (i < bytes.length && i < 5 && (bytes[i]! & 0x80) !== 0) i++;
  return i + 1;
}

function randomBytes(rng: Rng, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

const MUTATIONS: ((rng: Rng, valid: Buffer, corpus: Buffer[]) => Buffer)[] = [
  // Random bytes, with a plausible first byte half of the time.
  (rng) => {
    const b = randomBytes(rng, rng.int(64));
    if (b.length > 0 && rng.next() < 0.5) b[0] = (rng.int(16) << 4) | (rng.next() < 0.7 ? 0 : rng.int(16));
    return b;
  },
  // Flipped bits.
  (rng, valid) => {
    const b = Buffer.from(valid);
    for (let n = 1 + rng.int(4); n > 0; n--) {
      const i = rng.int(b.length);
      b[i] = b[i]! ^ (1 << rng.int(8));
    }
    return b;
  },
  // Truncation.
  (rng, valid) => valid.subarray(0, rng.int(valid.length)),
  // A wrong remaining length over the same body.
  (rng, valid) => {
    const body = valid.subarray(bodyOffset(valid));
    const claimed = rng.pick([0, 1, 2, body.length - 1, body.length + 1, body.length + rng.int(300), rng.int(1 << 21)]);
    return Buffer.concat([valid.subarray(0, 1), Buffer.from(varint(Math.max(0, claimed))), body]);
  },
  // An overlong (non-minimal) or malformed (five bytes) remaining length.
  (rng, valid) => {
    const body = valid.subarray(bodyOffset(valid));
    return Buffer.concat([valid.subarray(0, 1), Buffer.from(varint(body.length, 1 + rng.int(4))), body]);
  },
  // A body extended with random bytes, the remaining length adjusted to match.
  (rng, valid) => {
    const body = Buffer.concat([valid.subarray(bodyOffset(valid)), randomBytes(rng, 1 + rng.int(16))]);
    return Buffer.concat([valid.subarray(0, 1), Buffer.from(varint(body.length)), body]);
  },
  // A byte of the body overwritten, inserted or deleted, the remaining length adjusted (so the damage is inside).
  (rng, valid) => {
    const body = Buffer.from(valid.subarray(bodyOffset(valid)));
    const i = rng.int(body.length + 1);
    const op = rng.int(3);
    let mutated: Buffer;
    if (op === 0 && body.length > 0) {
      body[Math.min(i, body.length - 1)] = rng.pick([0x00, 0xff, 0x80, 0x7f, 0x23, 0x2b, 0xc0, 0xed, rng.int(256)]);
      mutated = body;
    } else if (op === 1) {
      mutated = Buffer.concat([body.subarray(0, i), Buffer.from([rng.int(256)]), body.subarray(i)]);
    } else {
      mutated = Buffer.concat([body.subarray(0, i), body.subarray(i + 1)]);
    }
    return Buffer.concat([valid.subarray(0, 1), Buffer.from(varint(mutated.length)), mutated]);
  },
  // Two packets spliced at random points.
  (rng, valid, corpus) => {
    const other = rng.pick(corpus);
    return Buffer.concat([valid.subarray(0, rng.int(valid.length + 1)), other.subarray(rng.int(other.length))]);
  },
  // A header announcing a huge packet followed by a little data: must not allocate the announced size.
  (rng, valid) =>
    Buffer.concat([
      valid.subarray(0, 1),
      Buffer.from(varint(rng.pick([268_435_455, 200_000_000, 16_000_000, 2_097_152]))),
      randomBytes(rng, rng.int(64)),
    ]),
  // Several valid packets back to back, the last one damaged.
  (rng, valid, corpus) => {
    const parts = [valid, rng.pick(corpus), rng.pick(corpus)];
    const last = Buffer.from(parts[2]!);
    if (last.length > 0) last[rng.int(last.length)] = rng.int(256);
    parts[2] = last;
    return Buffer.concat(parts);
  },
];

interface Failure {
  index: number;
  input: string;
  version: ProtocolVersion | undefined;
  error: unknown;
}

test(`fuzz: ${CASES} random and mutated packets through the Decoder; only MqttError comes out, memory stays bounded`, () => {
  const versions: ProtocolVersion[] = [3, 4, 5];
  // Valid encodings to mutate, from the same spec-derived arbitraries as the differential test.
  const corpus: { bytes: Buffer; version: ProtocolVersion }[] = [];
  for (const v of versions) {
    for (const p of fc.sample(packetArbitrary(v), { numRuns: 400, seed: SEED ^ v })) {
      corpus.push({ bytes: encode(p, v), version: v });
    }
  }
  const corpusBytes = corpus.map((c) => c.bytes);
  const rng = prng(SEED);
  const stats = { cases: 0, packets: 0, rejected: 0, incomplete: 0, bytes: 0 };
  const rejectedBy = new Map<number, number>();
  const failures: Failure[] = [];

  gc();
  const before = process.memoryUsage();
  let peakArrayBuffers = before.arrayBuffers;
  const started = performance.now();

  for (let index = 0; index < CASES; index++) {
    if ((index & 1023) === 0) {
      const mem = process.memoryUsage();
      peakArrayBuffers = Math.max(peakArrayBuffers, mem.arrayBuffers);
      if (performance.now() - started > TIME_LIMIT_MS) break;
    }
    const seedEntry = rng.pick(corpus);
    const input = rng.pick(MUTATIONS)(rng, seedEntry.bytes, corpusBytes);
    // Mostly the corpus entry's level; sometimes another, or none (then the first packet must be CONNECT).
    const roll = rng.next();
    const version = roll < 0.7 ? seedEntry.version : roll < 0.9 ? rng.pick(versions) : undefined;
    const maximumPacketSize = rng.next() < 0.2 ? 1 + rng.int(200) : undefined;
    // Each packet with the level it was decoded at (a CONNECT sets the decoder's level).
    const decoded: [Packet, ProtocolVersion][] = [];
    const decoder: Decoder = new Decoder((p) => decoded.push([p, decoder.protocolVersion ?? 5]), {
      protocolVersion: version,
      maximumPacketSize,
    });
    stats.cases++;
    stats.bytes += input.length;
    try {
      if (rng.next() < 0.5) {
        decoder.push(input);
      } else {
        // Random chunking, one byte at a time included.
        let pos = 0;
        while (pos < input.length) {
          const n = rng.next() < 0.3 ? 1 : 1 + rng.int(input.length - pos);
          decoder.push(input.subarray(pos, pos + n));
          pos += n;
        }
      }
      if (decoder.buffered > 0) stats.incomplete++;
    } catch (err) {
      if (!(err instanceof MqttError) || (err.cause !== undefined && !(err.cause instanceof MqttError))) {
        failures.push({ index, input: input.toString('hex'), version, error: err });
        if (failures.length >= 5) break;
        continue;
      }
      stats.rejected++;
      rejectedBy.set(err.reasonCode, (rejectedBy.get(err.reasonCode) ?? 0) + 1);
    }
    // What the decoder accepted is a valid packet: it must encode, and decode back to the same packet.
    for (const [p, v] of decoded) {
      stats.packets++;
      // 3.1.1 reserves CONNACK return codes 6..255 (section 3.2.2.3) without requiring a receiver to reject them;
      // the decoder passes them on and the encoder maps MQTT 5 refusals (>= 0x80) to the nearest 3.1.1 code, so
      // such a packet does not round-trip by design.
      if (p.type === 'connack' && v < 5 && p.reasonCode > 5) continue;
      try {
        const again: Packet[] = [];
        new Decoder((q) => again.push(q), { protocolVersion: v }).push(encode(p, v));
        assert.deepEqual(again, [p]);
      } catch (err) {
        failures.push({ index, input: input.toString('hex'), version, error: err });
        break;
      }
    }
    if (failures.length >= 5) break;
  }

  const elapsed = performance.now() - started;
  gc();
  const after = process.memoryUsage();
  const report = `seed 0x${SEED.toString(16)} (STARLING_FUZZ_SEED=${SEED})`;
  assert.deepEqual(
    failures.map((f) => ({
      ...f,
      error:
        f.error instanceof Error
          ? `${f.error.name}: ${f.error.message} / cause: ${String((f.error as Error).cause)}`
          : String(f.error),
    })),
    [],
    `decoder failures with ${report}`,
  );
  assert.ok(
    stats.cases >= Math.min(CASES, 100_000),
    `only ${stats.cases} cases ran within ${TIME_LIMIT_MS} ms (${report})`,
  );
  const mb = (n: number) => Math.round(n / 1048576);
  assert.ok(after.heapUsed - before.heapUsed < 64 * 1048576, `heap grew by ${mb(after.heapUsed - before.heapUsed)} MB`);
  assert.ok(
    after.arrayBuffers - before.arrayBuffers < 32 * 1048576,
    `arrayBuffers grew by ${mb(after.arrayBuffers - before.arrayBuffers)} MB`,
  );
  // Huge announced lengths must not be allocated up front.
  assert.ok(
    peakArrayBuffers - before.arrayBuffers < 128 * 1048576,
    `arrayBuffers peaked ${mb(peakArrayBuffers - before.arrayBuffers)} MB above start`,
  );
  console.log(
    `fuzz ${report}: ${JSON.stringify(stats)} in ${Math.round(elapsed)} ms; rejected by reason code ${JSON.stringify(Object.fromEntries([...rejectedBy].map(([k, n]) => [`0x${k.toString(16)}`, n])))}`,
  );
});
