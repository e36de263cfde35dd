import type { Clock } from '../util/clock.js';

/**
 * Keep Alive enforcement (MQTT section 3.1.2.10): when nothing arrives for one and a half times the Keep Alive
 * the connection is closed [MQTT-3.1.2-22] (5.0: [MQTT-3.1.2-22], 3.1.1: [MQTT-3.1.2-24]). One timer per
 * connection, re-armed from the time of the last received bytes instead of being reset per packet.
 */
export class KeepAlive {
  readonly #clock: Clock;
  readonly #limitMs: number;
  readonly #expire: () => void;
  #lastActivity: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(seconds: number, clock: Clock, expire: () => void) {
    this.#clock = clock;
    this.#limitMs = seconds * 1500;
    this.#expire = expire;
    this.#lastActivity = clock.now();
  }

  /** Called for every chunk received: a plain store, no timer work. */
  touch(now: number): void {
    this.#lastActivity = now;
  }

  start(): void {
    if (this.#limitMs > 0) this.#arm(this.#limitMs);
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(this.#check, ms);
    this.#timer.unref?.();
  }

  readonly #check = (): void => {
    this.#timer = undefined;
    const idle = this.#clock.now() - this.#lastActivity;
    if (idle >= this.#limitMs) this.#expire();
    else this.#arm(this.#limitMs - idle);
  };
}
