import type {
  InflightRecord,
  QueuedMessage,
  SessionRecord,
  Store,
  StoredMessage,
  SubscriptionRecord,
} from '../types.js';

const COMMITTED = Promise.resolve();

/**
 * The store of a broker whose state lives and dies with its process (`--no-persistence`): it keeps nothing. The
 * broker already holds every session, queue and retained message in memory; writing them to a second copy in
 * memory would only cost time and garbage. A restart starts empty. (MemoryStore, which does keep a copy, is for a
 * broker embedded in an application that hands the same store to a new Broker, and for tests of restarts.)
 */
export class VolatileStore implements Store {
  async open(): Promise<void> {}
  async close(): Promise<void> {}
  commit(): Promise<void> {
    return COMMITTED;
  }

  async loadSessions(): Promise<SessionRecord[]> {
    return [];
  }
  async getSession(_clientId: string): Promise<SessionRecord | undefined> {
    return undefined;
  }
  putSession(_record: SessionRecord): void {}
  deleteSession(_clientId: string): void {}

  async getSubscriptions(_clientId: string): Promise<SubscriptionRecord[]> {
    return [];
  }
  putSubscription(_clientId: string, _subscription: SubscriptionRecord): void {}
  deleteSubscription(_clientId: string, _topicFilter: string): void {}

  enqueue(_clientId: string, _message: QueuedMessage): void {}
  async readQueue(_clientId: string, _fromSeq: number, _limit: number): Promise<QueuedMessage[]> {
    return [];
  }
  dequeue(_clientId: string, _seq: number): void {}
  async lastQueuedSeq(_clientId: string): Promise<number> {
    return 0;
  }

  putInflight(_clientId: string, _record: InflightRecord): void {}
  deleteInflight(_clientId: string, _packetId: number): void {}
  async getInflight(_clientId: string): Promise<InflightRecord[]> {
    return [];
  }

  putIncomingQos2(_clientId: string, _packetId: number): void {}
  deleteIncomingQos2(_clientId: string, _packetId: number): void {}
  async getIncomingQos2(_clientId: string): Promise<number[]> {
    return [];
  }

  putRetained(_message: StoredMessage): void {}
  deleteRetained(_topic: string): void {}
  async loadRetained(): Promise<StoredMessage[]> {
    return [];
  }
}
