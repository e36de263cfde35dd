import type { StoredWill } from '../store/types.js';
import type { Broker } from './broker.js';
import type { Session } from './session.js';

/** setTimeout's limit; longer delays are re-armed when they fire. */
const MAX_TIMER_MS = 0x7fffffff;

/**
 * Will messages (MQTT 5 section 3.1.3.2): published when the connection ends without a normal DISCONNECT, after
 * the Will Delay Interval or when the session ends, whichever is first [MQTT-3.1.3-9]; not published when the
 * session resumes before the delay is over [MQTT-3.1.3-10].
 */
export class Wills {
  readonly #broker: Broker;

  constructor(broker: Broker) {
    this.#broker = broker;
  }

  /**
   * The connection of `session` ended abnormally with `will`. `delaySeconds` is already min(will delay,
   * session expiry) by the caller's decision; 0 publishes now.
   */
  schedule(session: Session, will: StoredWill, delaySeconds: number): void {
    if (delaySeconds <= 0) {
      this.publish(session.clientId, session.username, will);
      return;
    }
    this.#arm(session, will, this.#broker.clock.now() + delaySeconds * 1000);
  }

  /** Re-arms a will loaded from the store at start. */
  restore(session: Session, will: StoredWill, dueAt: number): void {
    if (dueAt <= this.#broker.clock.now()) this.publish(session.clientId, session.username, will);
    else this.#arm(session, will, dueAt);
  }

  /** The session resumed (or ended): the pending will is cancelled, or published now when `publishNow`. */
  settle(session: Session, publishNow: boolean): void {
    const will = session.pendingWill;
    if (!will) return;
    if (session.willTimer) clearTimeout(session.willTimer);
    session.willTimer = undefined;
    session.pendingWill = undefined;
    if (publishNow) this.publish(session.clientId, session.username, will);
  }

  /** Publishes a will like a message from its client (authorization applies; $SYS is refused). */
  publish(clientId: string, username: string | undefined, will: StoredWill): void {
    this.#broker.publishWill(clientId, username, will);
  }

  #arm(session: Session, will: StoredWill, dueAt: number): void {
    session.pendingWill = will;
    const broker = this.#broker;
    if (session.persistent) broker.store.putSession({ ...session.toRecord(), will, willAt: dueAt });
    const fire = (): void => {
      session.willTimer = undefined;
      if (session.pendingWill !== will) return;
      const left = dueAt - broker.clock.now();
      if (left > 0) {
        session.willTimer = setTimeout(fire, Math.min(left, MAX_TIMER_MS));
        session.willTimer.unref?.();
        return;
      }
      session.pendingWill = undefined;
      try {
        if (session.persistent && !session.ended) broker.store.putSession(session.toRecord());
        this.publish(session.clientId, session.username, will);
      } catch (error) {
        broker.logger.error({ err: error, clientId: session.clientId }, 'publishing a will failed');
      }
    };
    session.willTimer = setTimeout(fire, Math.min(Math.max(dueAt - broker.clock.now(), 0), MAX_TIMER_MS));
    session.willTimer.unref?.();
  }
}
