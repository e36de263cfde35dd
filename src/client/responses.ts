import { MqttError } from '../protocol/errors.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import type { Message } from './types.js';

interface Waiter {
  resolve: (message: Message) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

function key(correlation: Uint8Array): string {
  return Buffer.from(correlation.buffer, correlation.byteOffset, correlation.byteLength).toString('hex');
}

/**
 * The requests of `MqttClient.request()` waiting for their response (MQTT 5 section 4.10): one per
 * Correlation Data, all on the one Response Topic the client listens on.
 */
export class PendingResponses {
  /** The Response Topic the client subscribed to for responses, once it has. */
  topic: string | undefined;
  readonly #waiters = new Map<string, Waiter>();

  get size(): number {
    return this.#waiters.size;
  }

  /** Resolves with the response carrying `correlation`; rejects after `timeout` ms. */
  wait(correlation: Uint8Array, timeout: number): Promise<Message> {
    const id = key(correlation);
    return new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(id);
        reject(new MqttError(ReasonCode.UnspecifiedError, `no response on ${this.topic} within ${timeout} ms`));
      }, timeout);
      this.#waiters.set(id, { resolve, reject, timer });
    });
  }

  /** The request could not be sent: stop waiting, without settling the promise. */
  cancel(correlation: Uint8Array): void {
    const id = key(correlation);
    const waiter = this.#waiters.get(id);
    if (!waiter) return;
    clearTimeout(waiter.timer);
    this.#waiters.delete(id);
  }

  /** Hands a received message to its request, if it is a response to one. */
  match(message: Message): void {
    const correlation = message.properties?.correlationData;
    if (this.#waiters.size === 0 || !correlation || message.topic !== this.topic) return;
    const id = key(correlation);
    const waiter = this.#waiters.get(id);
    if (!waiter) return;
    this.#waiters.delete(id);
    clearTimeout(waiter.timer);
    waiter.resolve(message);
  }

  rejectAll(error: Error): void {
    for (const waiter of this.#waiters.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.#waiters.clear();
  }
}
