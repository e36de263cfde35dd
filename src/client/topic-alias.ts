import { MqttError } from '../protocol/errors.js';
import { ReasonCode } from '../protocol/reason-codes.js';

/**
 * Outbound topic aliases (MQTT 5 section 3.3.2.3.4): topics get aliases 1..maximum (the server's
 * Topic Alias Maximum); when all are taken, the least recently used alias is given to the new topic.
 * Aliases live as long as one network connection, so the map is reset on every CONNACK.
 */
export class OutboundTopicAliases {
  #maximum = 0;
  /** topic → alias, in least-recently-used-first order. */
  readonly #byTopic = new Map<string, number>();
  readonly #byAlias = new Map<number, string>();

  get maximum(): number {
    return this.#maximum;
  }

  reset(maximum: number): void {
    this.#maximum = maximum;
    this.#byTopic.clear();
    this.#byAlias.clear();
  }

  /**
   * The alias to send with `topic`, and whether the topic name can be left out (already known to
   * the server). Undefined when aliases are off.
   */
  assign(topic: string): { alias: number; known: boolean } | undefined {
    if (this.#maximum === 0) return undefined;
    const existing = this.#byTopic.get(topic);
    if (existing !== undefined) {
      this.#byTopic.delete(topic);
      this.#byTopic.set(topic, existing);
      return { alias: existing, known: true };
    }
    let alias: number;
    if (this.#byAlias.size < this.#maximum) {
      alias = this.#byAlias.size + 1;
    } else {
      const [oldest, oldestAlias] = this.#byTopic.entries().next().value as [string, number];
      this.#byTopic.delete(oldest);
      alias = oldestAlias;
    }
    this.#byTopic.set(topic, alias);
    this.#byAlias.set(alias, topic);
    return { alias, known: false };
  }

  /** Records an alias chosen by the user; throws when it is outside the server's range ([MQTT-3.3.2-9]). */
  set(alias: number, topic: string): void {
    if (alias < 1 || alias > this.#maximum) {
      throw new MqttError(ReasonCode.TopicAliasInvalid, `topic alias ${alias} is outside 1..${this.#maximum}`);
    }
    const previous = this.#byAlias.get(alias);
    if (previous !== undefined) this.#byTopic.delete(previous);
    this.#byAlias.set(alias, topic);
    this.#byTopic.set(topic, alias);
  }

  topicOf(alias: number): string | undefined {
    return this.#byAlias.get(alias);
  }
}

/**
 * Inbound topic aliases: the server maps aliases 1..our Topic Alias Maximum to topics and may
 * then send an empty topic name with the alias.
 */
export class InboundTopicAliases {
  readonly #topics = new Map<number, string>();
  maximum = 0;

  reset(maximum: number): void {
    this.maximum = maximum;
    this.#topics.clear();
  }

  /** The topic name of a PUBLISH; throws MqttError on an alias out of range or unknown. */
  resolve(topic: string, alias: number | undefined): string {
    if (alias === undefined) return topic;
    // [MQTT-3.3.2-10] [MQTT-3.3.2-11] alias 0 or above our maximum is a protocol error
    if (alias === 0 || alias > this.maximum) {
      throw new MqttError(ReasonCode.TopicAliasInvalid, `topic alias ${alias} is outside 1..${this.maximum}`);
    }
    if (topic.length > 0) {
      this.#topics.set(alias, topic);
      return topic;
    }
    const known = this.#topics.get(alias);
    if (known === undefined) {
      throw new MqttError(ReasonCode.ProtocolError, `topic alias ${alias} was never mapped to a topic`);
    }
    return known;
  }
}
