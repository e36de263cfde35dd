import { MqttError } from '../protocol/errors.js';
import { ReasonCode } from '../protocol/reason-codes.js';

/**
 * Packet identifiers 1..65535 for PUBLISH (QoS > 0), SUBSCRIBE and UNSUBSCRIBE. An identifier stays
 * taken until its flow completes ([MQTT-2.2.1-3] non-zero; [MQTT-2.2.1-4]… reusable only after the
 * acknowledgement), and allocation walks forward so that a just-released id is not reused at once.
 */
export class PacketIdAllocator {
  readonly #inUse = new Set<number>();
  #next = 1;

  get size(): number {
    return this.#inUse.size;
  }

  allocate(): number {
    if (this.#inUse.size >= 65535) {
      throw new MqttError(ReasonCode.QuotaExceeded, 'all 65535 packet identifiers are in use');
    }
    while (this.#inUse.has(this.#next)) this.#next = this.#next === 65535 ? 1 : this.#next + 1;
    const id = this.#next;
    this.#next = id === 65535 ? 1 : id + 1;
    this.#inUse.add(id);
    return id;
  }

  isInUse(id: number): boolean {
    return this.#inUse.has(id);
  }

  release(id: number): void {
    this.#inUse.delete(id);
  }

  clear(): void {
    this.#inUse.clear();
  }
}
