// The benchmark payload: every message carries what the receiver needs to measure latency and to
// count losses without any shared state with the sender, so `starling bench pub` and
// `starling bench sub` can run in different processes.
//
//   offset 0  float64 BE  send time, epoch milliseconds with sub-microsecond resolution
//   offset 8  uint32 BE   run id (a receiver ignores messages of other runs, e.g. retained ones)
//   offset 12 uint32 BE   publisher index within the run
//   offset 16 uint32 BE   sequence number, per publisher, from 0
//   offset 20 ...         padding up to the requested payload size

export const STAMP_BYTES = 20;

/** Epoch milliseconds from the monotonic clock: comparable across processes on one machine. */
export function stampNow(): number {
  return performance.timeOrigin + performance.now();
}

export function writeStamp(buf: Buffer, offset: number, sentAt: number, runId: number, publisher: number, seq: number) {
  buf.writeDoubleBE(sentAt, offset);
  buf.writeUInt32BE(runId, offset + 8);
  buf.writeUInt32BE(publisher, offset + 12);
  buf.writeUInt32BE(seq, offset + 16);
}

// Readers take the buffer and the payload's offset in it, so that receivers need not slice. They run for every
// message a generator receives (10 million a second in fan-out): plain byte reads, no argument checks; callers
// check that the payload holds STAMP_BYTES.

export function readSentAt(buf: Buffer, at = 0): number {
  return buf.readDoubleBE(at);
}

function uint32(buf: Buffer, at: number): number {
  return buf[at]! * 0x1000000 + ((buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!);
}

export function readRunId(buf: Buffer, at = 0): number {
  return uint32(buf, at + 8);
}

export function readPublisher(buf: Buffer, at = 0): number {
  return uint32(buf, at + 12);
}

export function readSeq(buf: Buffer, at = 0): number {
  return uint32(buf, at + 16);
}

/** A run id that differs between runs with overwhelming probability. */
export function newRunId(): number {
  return (Math.random() * 0xffffffff) >>> 0;
}
