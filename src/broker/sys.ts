import type { Broker } from './broker.js';

/**
 * The $SYS tree, like Mosquitto's: retained messages under $SYS/broker/ refreshed every `intervalSeconds`.
 * Only the broker publishes there; clients are refused.
 */
export class SysTopics {
  readonly #broker: Broker;
  readonly #intervalMs: number;
  readonly #startedAt: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(broker: Broker, intervalSeconds: number) {
    this.#broker = broker;
    this.#intervalMs = intervalSeconds * 1000;
    this.#startedAt = broker.clock.now();
  }

  start(): void {
    if (this.#intervalMs <= 0) return;
    this.#broker.publishSys('$SYS/broker/version', `starling ${this.#broker.config.version}`);
    this.publishNow();
    this.#timer = setInterval(() => {
      try {
        this.publishNow();
      } catch (error) {
        this.#broker.logger.error({ err: error }, 'publishing $SYS failed');
      }
    }, this.#intervalMs);
    this.#timer.unref?.();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  publishNow(): void {
    const broker = this.#broker;
    const stats = broker.stats;
    const uptime = Math.floor((broker.clock.now() - this.#startedAt) / 1000);
    broker.publishSys('$SYS/broker/uptime', `${uptime} seconds`);
    broker.publishSys('$SYS/broker/clients/connected', String(stats.clientsConnected));
    broker.publishSys('$SYS/broker/clients/total', String(stats.sessions));
    broker.publishSys('$SYS/broker/messages/received', String(stats.messagesReceived));
    broker.publishSys('$SYS/broker/messages/sent', String(stats.messagesSent));
    broker.publishSys('$SYS/broker/messages/dropped', String(stats.droppedMessages));
    broker.publishSys('$SYS/broker/bytes/received', String(stats.bytesReceived));
    broker.publishSys('$SYS/broker/bytes/sent', String(stats.bytesSent));
    broker.publishSys('$SYS/broker/subscriptions/count', String(stats.subscriptions));
    broker.publishSys('$SYS/broker/retained messages/count', String(stats.retained));
  }
}
