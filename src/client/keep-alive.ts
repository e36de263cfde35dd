import type { Clock } from '../util/clock.js';

/**
 * The client side of Keep Alive (section 3.1.2.10): a PINGREQ when nothing was sent for a Keep
 * Alive interval (§3.1.2.10; [MQTT-3.1.2-23] in 3.1.1), and the connection declared dead when no PINGRESP comes back
 * within another interval (section 4.13's "reasonable amount of time"). No timer is reset per
 * packet: the client records the time of its last write and the timer re-arms from it.
 */
export class KeepAlive {
  /** When the client last wrote, by the clock. */
  lastWrite = 0;
  readonly #clock: Clock;
  readonly #ping: () => void;
  readonly #dead: () => void;
  #interval = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #pingTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(clock: Clock, ping: () => void, dead: () => void) {
    this.#clock = clock;
    this.#ping = ping;
    this.#dead = dead;
  }

  /** Starts for a new connection; 0 seconds turns keep-alive off. */
  start(seconds: number): void {
    this.stop();
    this.#interval = seconds * 1000;
    if (this.#interval > 0) this.#arm();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#pingTimer) clearTimeout(this.#pingTimer);
    this.#timer = undefined;
    this.#pingTimer = undefined;
  }

  /** PINGRESP arrived. */
  pong(): void {
    if (this.#pingTimer) clearTimeout(this.#pingTimer);
    this.#pingTimer = undefined;
  }

  #arm(): void {
    const due = Math.max(0, this.lastWrite + this.#interval - this.#clock.now());
    this.#timer = setTimeout(() => this.#onTimer(), due);
  }

  #onTimer(): void {
    this.#timer = undefined;
    if (this.#clock.now() - this.lastWrite >= this.#interval - 5 && this.#pingTimer === undefined) {
      this.#ping();
      this.#pingTimer = setTimeout(() => {
        this.#pingTimer = undefined;
        this.stop();
        this.#dead();
      }, this.#interval);
    }
    this.#arm();
  }
}
