/** Per-client limits of issue #5 that are not part of the protocol: topic size, message rate and bandwidth. */

/** True when a topic name or filter has more characters or levels than the broker accepts. */
export function exceedsTopicLimits(topic: string, maxLength: number, maxLevels: number): boolean {
  if (topic.length > maxLength) return true;
  // A topic of n characters has at most n + 1 levels: count only when that could exceed the limit.
  if (topic.length < maxLevels) return false;
  let levels = 1;
  for (let i = 0; i < topic.length; i++) if (topic.charCodeAt(i) === 0x2f) levels++;
  return levels > maxLevels;
}

/**
 * Token buckets for one connection's input: PUBLISH packets and bytes per second, each allowing a burst of one
 * second's worth. `take` returns how long reading must pause (ms) for the connection to be back within its rates.
 * Plain numbers, no timer: the connection pauses its stream and resumes it.
 */
export class InputThrottle {
  readonly #publishRate: number;
  readonly #byteRate: number;
  #publishDebt = 0;
  #byteDebt = 0;
  #at = Number.NEGATIVE_INFINITY;

  constructor(publishRate: number, byteRate: number) {
    this.#publishRate = publishRate;
    this.#byteRate = byteRate;
  }

  take(now: number, publishes: number, bytes: number): number {
    const elapsed = now - this.#at;
    this.#at = now;
    let wait = 0;
    if (this.#publishRate > 0) {
      const rate = this.#publishRate;
      this.#publishDebt = Math.max(0, this.#publishDebt - (elapsed * rate) / 1000) + publishes;
      if (this.#publishDebt > rate) wait = ((this.#publishDebt - rate) * 1000) / rate;
    }
    if (this.#byteRate > 0) {
      const rate = this.#byteRate;
      this.#byteDebt = Math.max(0, this.#byteDebt - (elapsed * rate) / 1000) + bytes;
      if (this.#byteDebt > rate) wait = Math.max(wait, ((this.#byteDebt - rate) * 1000) / rate);
    }
    return Math.ceil(wait);
  }
}
