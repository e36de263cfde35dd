import { z } from 'zod';

/** Every key of starling.yaml, with its default. docs/configuration.md describes each one. */

const port = (what = 'a number from 0 to 65535') =>
  z
    .number({ error: `expected ${what}` })
    .int({ error: `expected ${what}` })
    .min(0, { error: `expected ${what}` })
    .max(65535, {
      error: `expected ${what}`,
    });

const count = (min: number, max: number) => {
  const message = `expected a whole number from ${min} to ${max}`;
  return z.number({ error: message }).int({ error: message }).min(min, { error: message }).max(max, { error: message });
};

const mapping = { error: 'expected a mapping of settings' };
const bool = () => z.boolean({ error: 'expected true or false' });
const text = (what = 'a non-empty string') =>
  z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}` });

export const listenerProtocols = ['mqtt', 'mqtts', 'ws', 'wss'] as const;
export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const tlsSchema = z.strictObject(
  {
    /** PEM certificate chain of the server. */
    cert: text('a certificate file path'),
    /** PEM private key of the server. */
    key: text('a key file path'),
    /** PEM CA bundle that client certificates are verified against. */
    ca: text('a CA file path').optional(),
    /** Mutual TLS: refuse clients without a certificate signed by `ca`. */
    requireClientCert: bool().default(false),
    /** Use the verified client certificate's CN as the username (no password check). */
    useCertificateCnAsUsername: bool().default(false),
  },
  mapping,
);

const listenerSchema = z.strictObject(
  {
    name: text().optional(),
    host: text('a host name or IP address').default('127.0.0.1'),
    port: port(),
    protocol: z.enum(listenerProtocols, { error: `expected one of ${listenerProtocols.join(', ')}` }).default('mqtt'),
    tls: tlsSchema.optional(),
    ws: z
      .strictObject(
        {
          path: z.string().startsWith('/', { error: "expected a path starting with '/'" }).default('/mqtt'),
        },
        mapping,
      )
      .optional(),
    /** Anonymous clients on this listener; default: allowed only when the listener is loopback-only. */
    allowAnonymous: bool().optional(),
    /** Open connections allowed on this listener; more are closed at once. Default: limits.maxConnections. */
    maxConnections: count(1, 10_000_000).optional(),
  },
  mapping,
);

const UINT32 = 0xffff_ffff;

export const configSchema = z
  .strictObject(
    {
      listeners: z
        .array(listenerSchema, { error: 'expected a list of listeners' })
        .min(1, { error: 'expected at least one listener' })
        .default([{ host: '127.0.0.1', port: 1883, protocol: 'mqtt' }]),
      persistence: z
        .strictObject(
          {
            // Durable by default: sessions, queues and retained messages survive a restart or a crash.
            enabled: bool().default(true),
            dataDir: text('a directory path').default('./data'),
          },
          mapping,
        )
        .prefault({}),
      auth: z
        .strictObject(
          {
            passwordFile: text('a file path').optional(),
            aclFile: text('a file path').optional(),
            /** Anonymous clients on every listener that does not say otherwise. */
            allowAnonymous: bool().optional(),
          },
          mapping,
        )
        .prefault({}),
      limits: z
        .strictObject(
          {
            /** Largest packet a client may send, announced in CONNACK. */
            maxPacketSize: count(16, 268_435_455).default(4 * 1024 * 1024),
            /** Largest CONNECT, the only packet read before the client is authenticated. */
            maxConnectPacketSize: count(16, 268_435_455).default(64 * 1024),
            maxKeepAlive: count(0, 65535).default(65535),
            connectTimeoutMs: count(100, 3_600_000).default(10_000),
            receiveMaximum: count(1, 65535).default(65535),
            topicAliasMaximum: count(0, 65535).default(65535),
            maxInflight: count(1, 65535).default(65535),
            maxQueuedMessages: count(0, 100_000_000).default(1000),
            maxQueuedBytes: count(0, Number.MAX_SAFE_INTEGER).default(64 * 1024 * 1024),
            queueQos0Offline: bool().default(false),
            /** PUBLISH packets per second per client; beyond, its socket is not read until the rate allows. 0: none. */
            maxPublishRate: count(0, 1_000_000_000).default(0),
            /** Bytes per second per client; beyond, its socket is not read until the rate allows. 0: none. */
            maxBytesPerSecond: count(0, Number.MAX_SAFE_INTEGER).default(0),
            /** Subscriptions per session; beyond, SUBACK 0x97 (3.1.1: 0x80). */
            maxSubscriptionsPerClient: count(1, 1_000_000_000).default(10_000),
            /** Characters and levels of a topic name or filter; beyond, 0x90 / 0x8F (3.1.1: closed / 0x80). */
            maxTopicLength: count(1, 65535).default(65535),
            maxTopicLevels: count(1, 65535).default(128),
            /** Retained messages kept, and their bytes; beyond, MQTT 5 PUBACK/PUBREC 0x97 (3.1.1: not kept). */
            maxRetainedMessages: count(0, 1_000_000_000).default(1_000_000),
            maxRetainedBytes: count(0, Number.MAX_SAFE_INTEGER).default(1024 * 1024 * 1024),
            /** Sessions that outlive their connection; one more gets CONNACK 0x97. */
            maxSessions: count(0, 1_000_000_000).default(1_000_000),
            /** Characters in a client identifier; longer gets CONNACK 0x85 (3.1.1: 0x02). */
            maxClientIdLength: count(23, 65535).default(1024),
            maxSessionExpiryInterval: count(0, UINT32).default(UINT32),
            maximumQoS: z.union([z.literal(0), z.literal(1), z.literal(2)], { error: 'expected 0, 1 or 2' }).default(2),
            retainAvailable: bool().default(true),
            /** Default per-listener connection limit. */
            maxConnections: count(1, 10_000_000).optional(),
            /** Connected clients across all listeners; a CONNECT beyond gets CONNACK 0x97. Unset: no limit. */
            maxClients: count(1, 10_000_000).optional(),
            /** CONNECTs per second accepted from one remote address; beyond, CONNACK 0x9F. 0: no limit. */
            maxConnectionRate: count(0, 1_000_000).default(50),
            /** Loopback addresses (a local proxy, the machine itself) are not rate limited. */
            connectionRateExemptLoopback: bool().default(true),
          },
          mapping,
        )
        .prefault({}),
      sys: z.strictObject({ intervalSeconds: count(0, 86_400).default(10) }, mapping).prefault({}),
      /** The HTTP admin server: /health, /metrics (Prometheus), /api/stats, /api/clients and the dashboard. */
      admin: z
        .strictObject(
          {
            enabled: bool().default(false),
            host: text('a host name or IP address').default('127.0.0.1'),
            port: port().default(9090),
            /** When set, /api/* requires `Authorization: Bearer <token>`. */
            token: text('a non-empty token').optional(),
          },
          mapping,
        )
        .prefault({}),
      log: z
        .strictObject(
          { level: z.enum(logLevels, { error: `expected one of ${logLevels.join(', ')}` }).default('info') },
          mapping,
        )
        .prefault({}),
    },
    mapping,
  )
  .superRefine((config, ctx) => {
    const names = new Set<string>();
    const endpoints = new Set<string>();
    config.listeners.forEach((listener, i) => {
      const secure = listener.protocol === 'mqtts' || listener.protocol === 'wss';
      if (secure && !listener.tls) {
        ctx.addIssue({
          code: 'custom',
          path: ['listeners', i, 'tls'],
          message: `required for protocol ${listener.protocol}`,
        });
      }
      if (!secure && listener.tls) {
        ctx.addIssue({ code: 'custom', path: ['listeners', i, 'tls'], message: 'only for protocols mqtts and wss' });
      }
      if (listener.ws && listener.protocol !== 'ws' && listener.protocol !== 'wss') {
        ctx.addIssue({ code: 'custom', path: ['listeners', i, 'ws'], message: 'only for protocols ws and wss' });
      }
      if (listener.tls?.useCertificateCnAsUsername && !listener.tls.ca) {
        ctx.addIssue({
          code: 'custom',
          path: ['listeners', i, 'tls', 'ca'],
          message: 'required to verify client certificates',
        });
      }
      if (listener.tls?.requireClientCert && !listener.tls.ca) {
        ctx.addIssue({
          code: 'custom',
          path: ['listeners', i, 'tls', 'ca'],
          message: 'required to verify client certificates',
        });
      }
      if (listener.name !== undefined) {
        if (names.has(listener.name)) {
          ctx.addIssue({
            code: 'custom',
            path: ['listeners', i, 'name'],
            message: `duplicate listener name '${listener.name}'`,
          });
        }
        names.add(listener.name);
      }
      const endpoint = `${listener.host}:${listener.port}`;
      if (listener.port !== 0 && endpoints.has(endpoint)) {
        ctx.addIssue({
          code: 'custom',
          path: ['listeners', i, 'port'],
          message: `another listener already uses ${endpoint}`,
        });
      }
      endpoints.add(endpoint);
    });
    const admin = config.admin;
    if (admin.enabled && admin.port !== 0 && endpoints.has(`${admin.host}:${admin.port}`)) {
      ctx.addIssue({
        code: 'custom',
        path: ['admin', 'port'],
        message: `a listener already uses ${admin.host}:${admin.port}`,
      });
    }
  });

export type ConfigInput = z.input<typeof configSchema>;
type ParsedConfig = z.output<typeof configSchema>;
export type ListenerSettings = Omit<ParsedConfig['listeners'][number], 'name'> & { name: string };
/** The validated configuration, every default filled in. */
export type StarlingConfig = Omit<ParsedConfig, 'listeners'> & { listeners: ListenerSettings[] };
