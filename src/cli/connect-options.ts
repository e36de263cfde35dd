// Flag parsing shared by `starling pub` and `starling sub`, spelled as mosquitto_pub and
// mosquitto_sub spell them, so that scripts move over unchanged. Hand-written: `-D` takes two or
// three values, which general-purpose parsers do not model.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { ClientOptions, TransportFactory, WillOptions } from '../client/index.js';
import { nodeTransportFactory } from '../client/transport-node.js';
import { Decoder } from '../protocol/decoder.js';
import type { Packet, Properties, ProtocolVersion, QoS, UserProperty } from '../protocol/packets.js';

/** Where a command reads and writes; tests pass their own. */
export interface CliIo {
  stdin: NodeJS.ReadableStream;
  stdout: Writable;
  stderr: Writable;
  /** Aborting it ends a running command cleanly (as SIGINT does). */
  signal?: AbortSignal;
}

export function processIo(): CliIo {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
}

export type PropertyCommand = 'connect' | 'publish' | 'will' | 'disconnect';

/** The flags both commands understand, after parsing. */
export interface CommonFlags {
  host: string;
  port: number | undefined;
  topics: string[];
  qos: QoS;
  clientId: string | undefined;
  clientIdPrefix: string | undefined;
  username: string | undefined;
  password: string | undefined;
  protocolVersion: ProtocolVersion;
  /** True when -V was given (-D switches to MQTT 5 only when it was not). */
  versionGiven: boolean;
  keepalive: number;
  clean: boolean;
  sessionExpiry: number | undefined;
  cafile: string | undefined;
  cert: string | undefined;
  key: string | undefined;
  insecure: boolean;
  url: string | undefined;
  will: { topic?: string; payload?: string; qos: QoS; retain: boolean };
  properties: Record<PropertyCommand, Properties>;
  debug: boolean;
  quiet: boolean;
  help: boolean;
}

export function defaultFlags(): CommonFlags {
  return {
    host: 'localhost',
    port: undefined,
    topics: [],
    qos: 0,
    clientId: undefined,
    clientIdPrefix: undefined,
    username: undefined,
    password: undefined,
    protocolVersion: 5,
    versionGiven: false,
    keepalive: 60,
    clean: true,
    sessionExpiry: undefined,
    cafile: undefined,
    cert: undefined,
    key: undefined,
    insecure: false,
    url: undefined,
    will: { qos: 0, retain: false },
    properties: { connect: {}, publish: {}, will: {}, disconnect: {} },
    debug: false,
    quiet: false,
    help: false,
  };
}

/** A flag of one command: its names and how it consumes values. */
export interface FlagSpec<F> {
  names: string[];
  /** Number of values after the flag (the -D flag is handled separately). */
  values: 0 | 1;
  apply(flags: F, value: string): void;
}

function integer(name: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}, got '${value}'`);
  }
  return Number(value);
}

function qos(name: string, value: string): QoS {
  return integer(name, value, 0, 2) as QoS;
}

export function commonFlagSpecs<F extends CommonFlags>(): FlagSpec<F>[] {
  return [
    { names: ['-h', '--host'], values: 1, apply: (f, v) => (f.host = v) },
    { names: ['-p', '--port'], values: 1, apply: (f, v) => (f.port = integer('-p', v, 1, 65535)) },
    { names: ['-t', '--topic'], values: 1, apply: (f, v) => f.topics.push(v) },
    { names: ['-q', '--qos'], values: 1, apply: (f, v) => (f.qos = qos('-q', v)) },
    { names: ['-i', '--id'], values: 1, apply: (f, v) => (f.clientId = v) },
    { names: ['-I', '--id-prefix'], values: 1, apply: (f, v) => (f.clientIdPrefix = v) },
    { names: ['-u', '--username'], values: 1, apply: (f, v) => (f.username = v) },
    { names: ['-P', '--pw'], values: 1, apply: (f, v) => (f.password = v) },
    {
      names: ['-V', '--protocol-version'],
      values: 1,
      apply: (f, v) => {
        const versions: Record<string, ProtocolVersion> = {
          '5': 5,
          mqttv5: 5,
          '311': 4,
          mqttv311: 4,
          '31': 3,
          mqttv31: 3,
        };
        const version = versions[v.toLowerCase()];
        if (!version) throw new Error(`-V must be 5, 311 or 31, got '${v}'`);
        f.protocolVersion = version;
        f.versionGiven = true;
      },
    },
    { names: ['-k', '--keepalive'], values: 1, apply: (f, v) => (f.keepalive = integer('-k', v, 0, 65535)) },
    { names: ['-c', '--disable-clean-session'], values: 0, apply: (f) => (f.clean = false) },
    {
      names: ['-x', '--session-expiry-interval'],
      values: 1,
      apply: (f, v) => (f.sessionExpiry = v === '∞' ? 0xffffffff : integer('-x', v, 0, 0xffffffff)),
    },
    { names: ['--cafile'], values: 1, apply: (f, v) => (f.cafile = v) },
    { names: ['--cert'], values: 1, apply: (f, v) => (f.cert = v) },
    { names: ['--key'], values: 1, apply: (f, v) => (f.key = v) },
    { names: ['--insecure'], values: 0, apply: (f) => (f.insecure = true) },
    { names: ['-L', '--url'], values: 1, apply: (f, v) => (f.url = v) },
    { names: ['--will-topic'], values: 1, apply: (f, v) => (f.will.topic = v) },
    { names: ['--will-payload'], values: 1, apply: (f, v) => (f.will.payload = v) },
    { names: ['--will-qos'], values: 1, apply: (f, v) => (f.will.qos = qos('--will-qos', v)) },
    { names: ['--will-retain'], values: 0, apply: (f) => (f.will.retain = true) },
    { names: ['-d', '--debug'], values: 0, apply: (f) => (f.debug = true) },
    { names: ['--quiet'], values: 0, apply: (f) => (f.quiet = true) },
    { names: ['--help'], values: 0, apply: (f) => (f.help = true) },
  ];
}

type PropertyType = 'string' | 'binary' | 'byte' | 'two' | 'four' | 'pair';

/** mosquitto's -D property names, the Properties key and type, and the commands that may carry each. */
const propertyTable: Record<string, { key: keyof Properties; type: PropertyType; commands: PropertyCommand[] }> = {
  'authentication-data': { key: 'authenticationData', type: 'binary', commands: ['connect'] },
  'authentication-method': { key: 'authenticationMethod', type: 'string', commands: ['connect'] },
  'maximum-packet-size': { key: 'maximumPacketSize', type: 'four', commands: ['connect'] },
  'receive-maximum': { key: 'receiveMaximum', type: 'two', commands: ['connect'] },
  'request-problem-information': { key: 'requestProblemInformation', type: 'byte', commands: ['connect'] },
  'request-response-information': { key: 'requestResponseInformation', type: 'byte', commands: ['connect'] },
  'session-expiry-interval': { key: 'sessionExpiryInterval', type: 'four', commands: ['connect', 'disconnect'] },
  'topic-alias-maximum': { key: 'topicAliasMaximum', type: 'two', commands: ['connect'] },
  'user-property': { key: 'userProperties', type: 'pair', commands: ['connect', 'publish', 'will', 'disconnect'] },
  'content-type': { key: 'contentType', type: 'string', commands: ['publish', 'will'] },
  'correlation-data': { key: 'correlationData', type: 'binary', commands: ['publish', 'will'] },
  'message-expiry-interval': { key: 'messageExpiryInterval', type: 'four', commands: ['publish', 'will'] },
  'payload-format-indicator': { key: 'payloadFormatIndicator', type: 'byte', commands: ['publish', 'will'] },
  'response-topic': { key: 'responseTopic', type: 'string', commands: ['publish', 'will'] },
  'topic-alias': { key: 'topicAlias', type: 'two', commands: ['publish'] },
  'will-delay-interval': { key: 'willDelayInterval', type: 'four', commands: ['will'] },
};

/** Applies `-D command identifier value` (or `... name value` for user-property); returns the values used. */
function applyProperty(flags: CommonFlags, args: string[], index: number): number {
  const [commandArg, identifier, first, second] = args.slice(index, index + 4);
  if (commandArg === undefined || identifier === undefined || first === undefined) {
    throw new Error('-D needs a command, a property name and a value');
  }
  const command = commandArg.toLowerCase() as PropertyCommand;
  if (!['connect', 'publish', 'will', 'disconnect'].includes(command)) {
    throw new Error(`-D: unknown command '${commandArg}' (connect, publish, will or disconnect)`);
  }
  const entry = propertyTable[identifier.toLowerCase()];
  if (!entry) throw new Error(`-D: unknown property '${identifier}'`);
  if (!entry.commands.includes(command)) throw new Error(`-D: ${identifier} is not allowed with ${command}`);
  const target = flags.properties[command] as Record<string, unknown>;
  let used = 3;
  switch (entry.type) {
    case 'pair': {
      if (second === undefined) throw new Error('-D ... user-property needs a name and a value');
      const list = (target.userProperties as UserProperty[] | undefined) ?? [];
      list.push([first, second]);
      target.userProperties = list;
      used = 4;
      break;
    }
    case 'string':
      target[entry.key] = first;
      break;
    case 'binary':
      target[entry.key] = Buffer.from(first, 'utf8');
      break;
    case 'byte':
      target[entry.key] = integer(identifier, first, 0, 255);
      break;
    case 'two':
      target[entry.key] = integer(identifier, first, 0, 65535);
      break;
    case 'four':
      target[entry.key] = integer(identifier, first, 0, 0xffffffff);
      break;
  }
  if (!flags.versionGiven) flags.protocolVersion = 5;
  return used;
}

/** Parses argv into `flags`; throws an Error whose message is meant for the user. */
export function parseFlags<F extends CommonFlags>(argv: string[], flags: F, specs: FlagSpec<F>[]): F {
  const byName = new Map<string, FlagSpec<F>>();
  for (const spec of specs) for (const name of spec.names) byName.set(name, spec);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '-D' || arg === '--property') {
      i += applyProperty(flags, argv, i + 1);
      continue;
    }
    const spec = byName.get(arg);
    if (!spec) throw new Error(`unknown option '${arg}'`);
    if (spec.values === 0) {
      spec.apply(flags, '');
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${arg} needs a value`);
    spec.apply(flags, value);
    i++;
  }
  return flags;
}

/** Builds the broker URL and client options from parsed flags (the -L URL's topic goes to flags.topics). */
export function clientSettings(flags: CommonFlags): { url: string; options: ClientOptions } {
  const tls = flags.cafile !== undefined || flags.cert !== undefined || flags.insecure;
  let url: string;
  if (flags.url) {
    const parsed = new URL(flags.url);
    const path = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
    if (path && (parsed.protocol === 'mqtt:' || parsed.protocol === 'mqtts:')) {
      flags.topics.push(path);
      parsed.pathname = '';
    }
    url = parsed.toString();
  } else {
    const host = flags.host.includes(':') ? `[${flags.host}]` : flags.host;
    url = `${tls ? 'mqtts' : 'mqtt'}://${host}:${flags.port ?? (tls ? 8883 : 1883)}`;
  }
  const v5 = flags.protocolVersion === 5;
  const connect = flags.properties.connect;
  const options: ClientOptions = {
    protocolVersion: flags.protocolVersion,
    keepalive: flags.keepalive,
    clean: flags.clean,
  };
  options.clientId =
    flags.clientId ??
    (flags.clientIdPrefix ? `${flags.clientIdPrefix}${process.pid}` : `starling-${randomBytes(4).toString('hex')}`);
  if (flags.username !== undefined) options.username = flags.username;
  if (flags.password !== undefined) options.password = flags.password;
  if (tls) {
    options.tls = {};
    if (flags.cafile) options.tls.ca = readFileSync(flags.cafile, 'utf8');
    if (flags.cert) options.tls.cert = readFileSync(flags.cert, 'utf8');
    if (flags.key) options.tls.key = readFileSync(flags.key, 'utf8');
    if (flags.insecure) options.tls.verifyHostname = false;
  }
  if (flags.will.topic !== undefined) {
    const will: WillOptions = {
      topic: flags.will.topic,
      payload: flags.will.payload ?? '',
      qos: flags.will.qos,
      retain: flags.will.retain,
    };
    if (v5 && Object.keys(flags.properties.will).length > 0) will.properties = flags.properties.will;
    options.will = will;
  }
  if (v5) {
    // As mosquitto: -c on MQTT 5 keeps the session for ever unless -x says otherwise.
    const expiry = flags.sessionExpiry ?? connect.sessionExpiryInterval ?? (flags.clean ? undefined : 0xffffffff);
    if (expiry !== undefined) options.sessionExpiryInterval = expiry;
    if (connect.receiveMaximum !== undefined) options.receiveMaximum = connect.receiveMaximum;
    if (connect.maximumPacketSize !== undefined) options.maximumPacketSize = connect.maximumPacketSize;
    if (connect.topicAliasMaximum !== undefined) options.topicAliasMaximum = connect.topicAliasMaximum;
    if (connect.requestProblemInformation === 0) options.requestProblemInformation = false;
    if (connect.requestResponseInformation) options.requestResponseInformation = true;
    if (connect.userProperties) options.userProperties = connect.userProperties;
    if (connect.authenticationMethod !== undefined) options.authenticationMethod = connect.authenticationMethod;
    if (connect.authenticationData !== undefined) options.authenticationData = connect.authenticationData;
  }
  return { url, options };
}

/** Combinations mosquitto refuses too. */
export function checkFlags(flags: CommonFlags): void {
  const withProperties = Object.values(flags.properties).some((p) => Object.keys(p).length > 0);
  if (withProperties && flags.protocolVersion !== 5) throw new Error('-D properties need MQTT 5 (-V 5)');
  if (flags.will.payload !== undefined && flags.will.topic === undefined) {
    throw new Error('--will-payload needs --will-topic');
  }
  // A kept session without a chosen client id could never be resumed.
  if (!flags.clean && flags.clientId === undefined && flags.clientIdPrefix === undefined) {
    throw new Error('you must provide a client id (-i) if you are using the -c option');
  }
}

function describe(packet: Packet): string {
  switch (packet.type) {
    case 'publish':
      return `PUBLISH (d${+packet.dup}, q${packet.qos}, r${+packet.retain}, m${packet.packetId ?? 0}, '${packet.topic}', ... (${packet.payload.length} bytes))`;
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return `${packet.type.toUpperCase()} (m${packet.packetId}, rc${packet.reasonCode ?? 0})`;
    case 'connack':
      return `CONNACK (${packet.reasonCode})`;
    case 'subscribe':
      return `SUBSCRIBE (Mid: ${packet.packetId}, ${packet.subscriptions.map((s) => `Topic: ${s.topicFilter}, QoS: ${s.qos}`).join('; ')})`;
    case 'suback':
      return `SUBACK (Mid: ${packet.packetId}, ${packet.reasonCodes.join(', ')})`;
    case 'disconnect':
      return `DISCONNECT (${packet.reasonCode ?? 0})`;
    default:
      return packet.type.toUpperCase();
  }
}

/** -d: a transport that logs each packet sent and received, as mosquitto's clients do. */
export function debugTransport(
  version: ProtocolVersion,
  clientId: () => string,
  log: Writable,
  inner: TransportFactory = nodeTransportFactory,
): TransportFactory {
  return async (target, handlers) => {
    const decoder = new Decoder((packet) => log.write(`Client ${clientId()} received ${describe(packet)}\n`), {
      protocolVersion: version,
    });
    const transport = await inner(target, {
      onData(chunk) {
        try {
          decoder.push(chunk);
        } catch {
          // The client's own decoder reports the error.
        }
        handlers.onData(chunk);
      },
      onClose: (error) => handlers.onClose(error),
      onDrain: () => handlers.onDrain?.(),
    });
    const sent = new Decoder((packet) => log.write(`Client ${clientId()} sending ${describe(packet)}\n`), {
      protocolVersion: version,
    });
    return {
      write(chunks) {
        for (const chunk of chunks) {
          try {
            sent.push(chunk);
          } catch {
            // Logging must never break the connection.
          }
        }
        return transport.write(chunks);
      },
      end: () => transport.end(),
      destroy: () => transport.destroy(),
    };
  };
}

export const commonUsage = `Connection options (as mosquitto_pub / mosquitto_sub):
  -h, --host HOST            broker host (default localhost)
  -p, --port PORT            broker port (default 1883, 8883 with TLS)
  -L, --url URL              mqtt(s)://[user[:password]@]host[:port]/topic
  -i, --id ID                client id;  -I, --id-prefix PREFIX  id = PREFIX + process id
  -u, --username USER        -P, --pw PASSWORD
  -V, --protocol-version V   5 (default), 311 or 31
  -k, --keepalive SECONDS    keep-alive interval (default 60)
  -c, --disable-clean-session  keep the session (needs -i)
  -x SECONDS                 MQTT 5 session expiry interval
  -q, --qos 0|1|2
  --cafile FILE  --cert FILE  --key FILE  --insecure (skip the host name check)
  --will-topic T  --will-payload P  --will-qos Q  --will-retain
  -D COMMAND PROPERTY VALUE  MQTT 5 property, e.g. -D publish user-property key value,
                             -D publish content-type text/plain, -D connect session-expiry-interval 60
  -d, --debug                print packets sent and received
  --quiet                    no error messages
  --help`;
