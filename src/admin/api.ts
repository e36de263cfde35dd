import type { Broker } from '../broker/broker.js';
import type { Connection } from '../broker/connection.js';
import type { Listener } from '../transport/types.js';

/** GET /health */
export interface HealthResponse {
  status: 'ok' | 'shutting down';
  /** Seconds since the broker started serving. */
  uptime: number;
  version: string;
}

/** GET /api/stats */
export interface StatsResponse {
  version: string;
  /** Seconds since the broker started serving. */
  uptime: number;
  /** Milliseconds since the epoch when the numbers were read, to compute rates from two responses. */
  now: number;
  stats: {
    clientsConnected: number;
    messagesReceived: number;
    messagesSent: number;
    bytesReceived: number;
    bytesSent: number;
    droppedMessages: number;
    subscriptions: number;
    retained: number;
    sessions: number;
  };
  listeners: { name: string; protocol: string; url: string; connections: number; accepted: number; refused: number }[];
  process: { pid: number; rss: number; heapUsed: number; heapTotal: number; cpuSeconds: number };
}

/** One connected client in GET /api/clients. */
export interface ClientEntry {
  clientId: string;
  username: string | null;
  /** Protocol level: 3 (MQTT 3.1), 4 (3.1.1), 5 (5.0). */
  protocolVersion: number;
  remoteAddress: string | null;
  listener: string | null;
  /** Milliseconds since the epoch; null when the client connected before the admin server started. */
  connectedAt: number | null;
  subscriptions: number;
  /** Outbound QoS 1/2 messages awaiting acknowledgement. */
  inflight: number;
  /** Messages waiting in the session's queue. */
  queued: number;
}

/** GET /api/clients */
export interface ClientsResponse {
  /** Connected clients in all. */
  total: number;
  /** At most `limit` of them (?limit=, default 100), in the order they connected. */
  clients: ClientEntry[];
  truncated: boolean;
}

/** GET /api/clients/{clientId}: one session, connected or not. */
export interface SessionResponse {
  clientId: string;
  connected: boolean;
  /** The connection, while connected. */
  client: ClientEntry | null;
  username: string | null;
  protocolVersion: number;
  /** Session Expiry Interval, seconds (4294967295: never). */
  expiryInterval: number;
  /** Milliseconds since the epoch when an offline session ends; null while connected or never. */
  expiresAt: number | null;
  subscriptions: {
    topicFilter: string;
    qos: number;
    noLocal: boolean;
    retainAsPublished: boolean;
    retainHandling: number;
    subscriptionIdentifier: number | null;
  }[];
  inflight: number;
  queued: number;
  queuedBytes: number;
  /** A will waiting for its delay after the connection ended. */
  willPending: boolean;
}

export const DEFAULT_CLIENT_LIMIT = 100;
export const MAX_CLIENT_LIMIT = 10_000;

/** What the admin server reads the broker through: its public fields only. */
export interface Snapshotter {
  stats(): StatsResponse;
  clients(limit: number): ClientsResponse;
  /** Undefined when the broker holds no session for that client id. */
  session(clientId: string): SessionResponse | undefined;
  uptime(): number;
}

/**
 * Reads the broker's counters and connections for the API. `connectedAt` is kept by the admin server from the
 * broker's clientConnected events (the broker does not record the time itself).
 */
export function createSnapshotter(
  broker: Broker,
  listeners: readonly Listener[],
  startedAt: number,
  connectedAt: WeakMap<object, number>,
): Snapshotter {
  const entry = (connection: Connection): ClientEntry => {
    const session = connection.session;
    return {
      clientId: connection.clientId,
      username: connection.username ?? null,
      protocolVersion: connection.version,
      remoteAddress: connection.meta.remoteAddress ?? null,
      listener: connection.meta.listener ?? null,
      connectedAt: connectedAt.get(connection) ?? null,
      subscriptions: session?.subscriptions.size ?? 0,
      inflight: session?.inflight.size ?? 0,
      queued: session?.queueLength ?? 0,
    };
  };
  const uptime = (): number => Math.max(0, Math.floor((broker.clock.now() - startedAt) / 1000));
  return {
    uptime,
    stats(): StatsResponse {
      const s = broker.stats;
      const memory = process.memoryUsage();
      const cpu = process.cpuUsage();
      return {
        version: broker.config.version,
        uptime: uptime(),
        now: broker.clock.now(),
        stats: {
          clientsConnected: s.clientsConnected,
          messagesReceived: s.messagesReceived,
          messagesSent: s.messagesSent,
          bytesReceived: s.bytesReceived,
          bytesSent: s.bytesSent,
          droppedMessages: s.droppedMessages,
          subscriptions: s.subscriptions,
          retained: s.retained,
          sessions: s.sessions,
        },
        listeners: listeners.map((l) => ({
          name: l.name,
          protocol: l.protocol,
          url: l.url(),
          connections: l.stats.connections,
          accepted: l.stats.accepted,
          refused: l.stats.refused,
        })),
        process: {
          pid: process.pid,
          rss: memory.rss,
          heapUsed: memory.heapUsed,
          heapTotal: memory.heapTotal,
          cpuSeconds: (cpu.user + cpu.system) / 1e6,
        },
      };
    },
    clients(limit: number): ClientsResponse {
      const clients: ClientEntry[] = [];
      let total = 0;
      for (const connection of broker.connections) {
        if (!connection.ready) continue;
        total++;
        if (clients.length < limit) clients.push(entry(connection));
      }
      return { total, clients, truncated: total > clients.length };
    },
    session(clientId: string): SessionResponse | undefined {
      const session = broker.sessions.get(clientId);
      if (!session) return undefined;
      const connection = session.connection?.ready ? session.connection : undefined;
      return {
        clientId,
        connected: connection !== undefined,
        client: connection ? entry(connection) : null,
        username: session.username ?? null,
        protocolVersion: session.protocolVersion,
        expiryInterval: session.expiryInterval,
        expiresAt: session.expiresAt ?? null,
        subscriptions: [...session.subscriptions.values()].map((s) => ({
          topicFilter: s.topicFilter,
          qos: s.qos,
          noLocal: s.noLocal,
          retainAsPublished: s.retainAsPublished,
          retainHandling: s.retainHandling,
          subscriptionIdentifier: s.subscriptionIdentifier ?? null,
        })),
        inflight: session.inflight.size,
        queued: session.queueLength,
        queuedBytes: session.queuedBytes,
        willPending: session.pendingWill !== undefined,
      };
    },
  };
}
