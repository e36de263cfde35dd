import type {
  InflightRecord,
  QueuedMessage,
  SessionRecord,
  Store,
  StoredMessage,
  SubscriptionRecord,
} from '../types.js';

interface SessionData {
  record?: SessionRecord;
  subscriptions: Map<string, SubscriptionRecord>;
  /** seq -> message; Map keeps insertion order and seqs only grow. */
  queue: Map<number, QueuedMessage>;
  inflight: Map<number, InflightRecord>;
  incomingQos2: Set<number>;
}

/**
 * The in-memory store: nothing survives the process, every write is committed at once. The default store,
 * and the reference the shared suite holds every other store to. A MemoryStore may be handed to a second
 * Broker after the first one closed, which is how tests exercise restarts.
 */
export class MemoryStore implements Store {
  readonly #sessions = new Map<string, SessionData>();
  readonly #retained = new Map<string, StoredMessage>();
  readonly #committed = Promise.resolve();

  async open(): Promise<void> {}

  async close(): Promise<void> {}

  commit(): Promise<void> {
    return this.#committed;
  }

  async loadSessions(): Promise<SessionRecord[]> {
    const out: SessionRecord[] = [];
    for (const data of this.#sessions.values()) if (data.record) out.push(copySession(data.record));
    return out;
  }

  async getSession(clientId: string): Promise<SessionRecord | undefined> {
    const record = this.#sessions.get(clientId)?.record;
    return record ? copySession(record) : undefined;
  }

  putSession(record: SessionRecord): void {
    this.#data(clientId(record)).record = copySession(record);
  }

  deleteSession(id: string): void {
    this.#sessions.delete(id);
  }

  async getSubscriptions(id: string): Promise<SubscriptionRecord[]> {
    const data = this.#sessions.get(id);
    return data ? [...data.subscriptions.values()].map((s) => ({ ...s })) : [];
  }

  putSubscription(id: string, subscription: SubscriptionRecord): void {
    this.#data(id).subscriptions.set(subscription.topicFilter, { ...subscription });
  }

  deleteSubscription(id: string, topicFilter: string): void {
    this.#sessions.get(id)?.subscriptions.delete(topicFilter);
  }

  enqueue(id: string, message: QueuedMessage): void {
    this.#data(id).queue.set(message.seq, message);
  }

  async readQueue(id: string, fromSeq: number, limit: number): Promise<QueuedMessage[]> {
    const data = this.#sessions.get(id);
    const out: QueuedMessage[] = [];
    if (!data || limit <= 0) return out;
    for (const message of data.queue.values()) {
      if (message.seq < fromSeq) continue;
      out.push(message);
      if (out.length >= limit) break;
    }
    return out;
  }

  async lastQueuedSeq(id: string): Promise<number> {
    let last = 0;
    for (const seq of this.#sessions.get(id)?.queue.keys() ?? []) if (seq > last) last = seq;
    return last;
  }

  dequeue(id: string, seq: number): void {
    this.#sessions.get(id)?.queue.delete(seq);
  }

  putInflight(id: string, record: InflightRecord): void {
    this.#data(id).inflight.set(record.packetId, { ...record });
  }

  deleteInflight(id: string, packetId: number): void {
    this.#sessions.get(id)?.inflight.delete(packetId);
  }

  async getInflight(id: string): Promise<InflightRecord[]> {
    const data = this.#sessions.get(id);
    if (!data) return [];
    return [...data.inflight.values()].sort((a, b) => a.seq - b.seq).map((r) => ({ ...r }));
  }

  putIncomingQos2(id: string, packetId: number): void {
    this.#data(id).incomingQos2.add(packetId);
  }

  deleteIncomingQos2(id: string, packetId: number): void {
    this.#sessions.get(id)?.incomingQos2.delete(packetId);
  }

  async getIncomingQos2(id: string): Promise<number[]> {
    const data = this.#sessions.get(id);
    return data ? [...data.incomingQos2] : [];
  }

  putRetained(message: StoredMessage): void {
    this.#retained.set(message.topic, message);
  }

  deleteRetained(topic: string): void {
    this.#retained.delete(topic);
  }

  async loadRetained(): Promise<StoredMessage[]> {
    return [...this.#retained.values()];
  }

  #data(id: string): SessionData {
    let data = this.#sessions.get(id);
    if (!data) {
      data = { subscriptions: new Map(), queue: new Map(), inflight: new Map(), incomingQos2: new Set() };
      this.#sessions.set(id, data);
    }
    return data;
  }
}

function clientId(record: SessionRecord): string {
  return record.clientId;
}

function copySession(record: SessionRecord): SessionRecord {
  return record.will ? { ...record, will: { ...record.will } } : { ...record };
}
