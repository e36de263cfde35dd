import type { Writable } from 'node:stream';
import { type AdminServer, startAdminServer } from '../admin/server.js';
import { AclAuthorizer } from '../auth/acl.js';
import { type ConnectionLimitStats, ConnectionLimitsAuthenticator } from '../auth/connection-limits.js';
import { PasswordFileAuthenticator } from '../auth/password-file.js';
import type { Authorizer } from '../auth/types.js';
import { Broker } from '../broker/broker.js';
import type { StarlingConfig } from '../config/schema.js';
import { LmdbStore } from '../store/lmdb/index.js';
import type { Store } from '../store/types.js';
import { VolatileStore } from '../store/volatile/index.js';
import { createListener } from '../transport/listener.js';
import type { Listener } from '../transport/types.js';
import { type Clock, systemClock } from '../util/clock.js';
import { createLogger, type Logger } from '../util/logger.js';
import { type ListenerAuthPolicy, ListenerPolicyAuthenticator, listenerAuthPolicy } from './listener-auth.js';

/** A broker started from a configuration: the broker, its listeners, and what SIGHUP and SIGTERM do. */
export interface RunningBroker {
  readonly broker: Broker;
  readonly listeners: readonly Listener[];
  /** The admin HTTP server (health, metrics, API, dashboard) when `admin.enabled`. */
  readonly admin: AdminServer | undefined;
  /** CONNECTs refused by limits.maxClients (0x97) and limits.maxConnectionRate (0x9F) since start. */
  readonly connectionLimits: ConnectionLimitStats;
  /** Re-reads the password file, the ACL file and TLS certificates; a broken one keeps the old one in force. */
  reload(): Promise<{ ok: boolean; errors: string[] }>;
  /** Graceful: MQTT 5 clients get DISCONNECT 0x8B, the store is flushed, the listeners closed. */
  close(): Promise<void>;
  /** Logs each listener's address ("listening on mqtt://127.0.0.1:1883"), which scripts and users wait for. */
  announce(): void;
}

export interface StartOptions {
  logger?: Logger;
  version?: string;
  /** Time for the connection rate and the login failure throttle (tests inject a fake). */
  clock?: Clock;
  /** How a throttled login waits out its delay (tests inject a fake). */
  sleep?: (ms: number) => Promise<unknown>;
}

async function openStore(config: StarlingConfig, logger: Logger): Promise<Store> {
  // Broker.start() opens it: a data directory in use, damaged or of an unknown format stops the start there.
  if (config.persistence.enabled) return new LmdbStore(config.persistence.dataDir, { logger });
  // Everything in the broker's memory, nothing copied: the state goes with the process.
  return new VolatileStore();
}

/** Starts a broker and its listeners from a validated configuration. */
export async function startBroker(config: StarlingConfig, options: StartOptions = {}): Promise<RunningBroker> {
  const logger = options.logger ?? createLogger(config.log.level);
  const clock = options.clock ?? systemClock;
  const { passwordFile, aclFile } = config.auth;
  const passwords = passwordFile
    ? await keyed('auth.passwordFile', () =>
        PasswordFileAuthenticator.load(passwordFile, {
          allowAnonymous: true,
          clock,
          ...(options.sleep ? { sleep: options.sleep } : {}),
        }),
      )
    : undefined;
  const acl = aclFile ? await keyed('auth.aclFile', () => AclAuthorizer.load(aclFile)) : undefined;

  const policies = new Map<string, ListenerAuthPolicy>();
  for (const listener of config.listeners) {
    policies.set(listener.name, listenerAuthPolicy(listener, config.auth.allowAnonymous));
  }
  const limits = config.limits;
  // Limits first: a CONNECT refused for the rate or the broker-wide quota costs no password hash.
  const connectionLimits = new ConnectionLimitsAuthenticator(
    new ListenerPolicyAuthenticator(policies, passwords, config.auth.allowAnonymous),
    {
      clock,
      logger,
      maxConnectionRate: limits.maxConnectionRate,
      exemptLoopback: limits.connectionRateExemptLoopback,
      ...(limits.maxClients !== undefined
        ? {
            maxClients: limits.maxClients,
            connectedClients: () => broker.stats.clientsConnected,
            isConnected: (clientId: string) => broker.sessions.get(clientId)?.connection !== undefined,
          }
        : {}),
    },
  );
  const broker = new Broker({
    logger,
    store: await openStore(config, logger),
    authenticator: connectionLimits,
    ...(acl ? { authorizer: acl as Authorizer } : {}),
    // The listener policy above decides about anonymous clients, per listener.
    allowAnonymous: true,
    maxPacketSize: limits.maxPacketSize,
    maxConnectPacketSize: limits.maxConnectPacketSize,
    maxKeepAlive: limits.maxKeepAlive,
    connectTimeoutMs: limits.connectTimeoutMs,
    receiveMaximum: limits.receiveMaximum,
    topicAliasMaximum: limits.topicAliasMaximum,
    maxInflight: limits.maxInflight,
    maxQueuedMessages: limits.maxQueuedMessages,
    maxQueuedBytes: limits.maxQueuedBytes,
    queueQos0Offline: limits.queueQos0Offline,
    maxPublishRate: limits.maxPublishRate,
    maxBytesPerSecond: limits.maxBytesPerSecond,
    maxSubscriptionsPerClient: limits.maxSubscriptionsPerClient,
    maxTopicLength: limits.maxTopicLength,
    maxTopicLevels: limits.maxTopicLevels,
    maxRetainedMessages: limits.maxRetainedMessages,
    maxRetainedBytes: limits.maxRetainedBytes,
    maxSessions: limits.maxSessions,
    maxClientIdLength: limits.maxClientIdLength,
    maxSessionExpiryInterval: limits.maxSessionExpiryInterval,
    maximumQoS: limits.maximumQoS,
    retainAvailable: limits.retainAvailable,
    sysIntervalSeconds: config.sys.intervalSeconds,
    ...(options.version ? { version: options.version } : {}),
  });
  broker.on('error', (err) => logger.error({ err }, 'broker error'));
  await broker.start();

  const listeners: Listener[] = [];
  try {
    for (const [i, settings] of config.listeners.entries()) {
      const maxConnections = settings.maxConnections ?? limits.maxConnections;
      const where = `listeners[${i}] (${settings.protocol}://${settings.host}:${settings.port})`;
      const listener = await keyed(where, () =>
        createListener(
          {
            name: settings.name,
            host: settings.host,
            port: settings.port,
            protocol: settings.protocol,
            ...(settings.tls ? { tls: settings.tls } : {}),
            // ws buffers a whole WebSocket message before handing it over: bound it by the packet size limit.
            ...(settings.protocol === 'ws' || settings.protocol === 'wss'
              ? { ws: { ...settings.ws, maxPayload: webSocketMaxPayload(limits.maxPacketSize) } }
              : {}),
            ...(maxConnections !== undefined ? { maxConnections } : {}),
            handshakeTimeoutMs: limits.connectTimeoutMs,
          },
          (stream, meta) => broker.handle(stream, meta),
          logger,
        ),
      );
      listeners.push(listener);
    }
  } catch (error) {
    await Promise.all(listeners.map((l) => l.close()));
    await broker.close();
    throw error;
  }

  let admin: AdminServer | undefined;
  if (config.admin.enabled) {
    const { host, port, token } = config.admin;
    try {
      admin = await keyed(`admin (http://${host}:${port})`, () =>
        startAdminServer(broker, { host, port, logger, listeners, ...(token ? { token } : {}) }),
      );
    } catch (error) {
      await Promise.all(listeners.map((l) => l.close()));
      await broker.close();
      throw error;
    }
  }

  const reload = async () => {
    const errors: string[] = [];
    const attempt = async (what: string, action: () => Promise<void>) => {
      try {
        await action();
        logger.info(`${what} reloaded`);
      } catch (error) {
        const message = `${what}: reload failed, the previous one stays in force: ${describeError(error)}`;
        errors.push(message);
        logger.error(message);
      }
    };
    if (passwords) await attempt(`password file ${config.auth.passwordFile}`, () => passwords.reload());
    if (acl) await attempt(`ACL file ${config.auth.aclFile}`, () => acl.reload());
    for (const [i, listener] of listeners.entries()) {
      const tls = config.listeners[i]!.tls;
      if (tls && listener.reloadTls) {
        const reloadTls = listener.reloadTls.bind(listener);
        await attempt(`TLS certificates of listener ${listener.name}`, () => reloadTls(tls));
      }
    }
    return { ok: errors.length === 0, errors };
  };

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      // /health answers 503 while the broker stops, and the admin server goes last.
      admin?.shuttingDown();
      await broker.close();
      await Promise.all(listeners.map((l) => l.close({ graceMs: 3000 })));
      await admin?.close();
    })();
    return closing;
  };
  const announce = () => {
    for (const listener of listeners) {
      const anonymous = policies.get(listener.name)?.allowAnonymous ? 'anonymous allowed' : 'anonymous refused';
      logger.info({ listener: listener.name }, `listening on ${listener.url()} (${anonymous})`);
    }
    if (admin) {
      const protectedApi = config.admin.token ? 'API token required' : 'no API token';
      logger.info({ admin: admin.url }, `admin on ${admin.url} (health, metrics, dashboard; ${protectedApi})`);
    }
  };
  return { broker, listeners, admin, connectionLimits: connectionLimits.stats, reload, close, announce };
}

/** The protocol's largest packet: 268,435,455 bytes of remaining length after at most 5 header bytes. */
const LARGEST_PACKET = 268_435_460;
/** A client may pack several small packets into one WebSocket message ([MQTT-6.0.0-2]): never go below this. */
const MIN_WEBSOCKET_MESSAGE = 1024 * 1024;

/** The largest WebSocket message a ws/wss listener accepts: one packet of maxPacketSize, at least 1 MiB. */
export function webSocketMaxPayload(maxPacketSize: number | undefined): number {
  return Math.max(maxPacketSize ?? LARGEST_PACKET, MIN_WEBSOCKET_MESSAGE);
}

/** Runs a start-up step; its error is re-thrown with the configuration key it concerns in front. */
async function keyed<T>(key: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw new Error(`${key}: ${describeError(error)}`, { cause: error });
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}

export interface BrokerIo {
  stderr: Writable;
  /** Where the process's signals come from (process in production, an EventEmitter in tests). */
  signals: NodeJS.EventEmitter;
}

/**
 * Runs the broker until SIGINT or SIGTERM: then closes gracefully and resolves 0. A second signal while
 * closing resolves 1 at once. SIGHUP reloads the password file, ACL and TLS certificates.
 */
export async function serveUntilSignal(running: RunningBroker, io: BrokerIo, logger: Logger): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onStop = (signal: string) => {
      if (stopping) {
        logger.warn(`${signal} again: exiting without waiting`);
        cleanup();
        resolve(1);
        return;
      }
      stopping = true;
      logger.info(`${signal}: shutting down`);
      running.close().then(
        () => {
          logger.info('stopped');
          cleanup();
          resolve(0);
        },
        (error: unknown) => {
          logger.error({ err: error }, 'error while shutting down');
          cleanup();
          resolve(1);
        },
      );
    };
    const onInt = () => onStop('SIGINT');
    const onTerm = () => onStop('SIGTERM');
    const onHup = () => {
      logger.info('SIGHUP: reloading');
      void running.reload();
    };
    const cleanup = () => {
      io.signals.off('SIGINT', onInt);
      io.signals.off('SIGTERM', onTerm);
      io.signals.off('SIGHUP', onHup);
    };
    io.signals.on('SIGINT', onInt);
    io.signals.on('SIGTERM', onTerm);
    io.signals.on('SIGHUP', onHup);
    // Announced only now, so that whoever waits for the address can signal us at once.
    running.announce();
  });
}
