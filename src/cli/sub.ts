// `starling sub`: subscribe and print messages, with mosquitto_sub's flags and output formats,
// plus --json for one JSON object per message.

import { isUtf8 } from 'node:buffer';
import type { Message, MqttClient } from '../client/index.js';
import { reasonText } from '../client/reason-text.js';
import { topicMatches } from '../topics/match.js';
import {
  type CliIo,
  type CommonFlags,
  checkFlags,
  clientSettings,
  commonFlagSpecs,
  commonUsage,
  debugTransport,
  defaultFlags,
  type FlagSpec,
  parseFlags,
  processIo,
} from './connect-options.js';
import { describeFailure, openClient, retryConnectSpec, retryConnectUsage } from './pub.js';

/** mosquitto_sub's exit status when -W expires (libmosquitto's MOSQ_ERR_TIMEOUT). */
export const EXIT_TIMEOUT = 27;

interface SubFlags extends CommonFlags {
  verbose: boolean;
  count: number | undefined;
  timeout: number | undefined;
  format: string | undefined;
  json: boolean;
  eol: boolean;
  skipRetained: boolean;
  retainedOnly: boolean;
  retainAsPublished: boolean;
  filterOut: string[];
  unsubscribe: string[];
  exitAfterSubscribe: boolean;
  retryConnect: number | undefined;
}

const usage = `Usage: starling sub {-t topic ... | -L URL} [options]

Subscribe options:
  -t, --topic FILTER         topic filter to subscribe to (repeatable)
  -v, --verbose              print the topic before the payload
  -C COUNT                   exit after COUNT messages
  -W SECONDS                 exit after SECONDS (status ${EXIT_TIMEOUT} when no -C count was reached)
  -F FORMAT                  output format: %t topic, %p payload, %q QoS, %r retain, %l length,
                             %m message id, %x / %X hex payload, %C content type, %E expiry, %F format
                             indicator, %P user properties, %R response topic, %D correlation data,
                             %S subscription ids, %I ISO time, %U Unix time, %j JSON, %% and \\n \\t \\\\ \\0
  --json                     one JSON object per message: topic, qos, retain, payload, properties
  -N                         no newline after each message
  -R                         do not print stale (retained) messages
  --retained-only            print only retained messages; exit at the first live one
  -T, --filter-out FILTER    do not print messages on topics matching FILTER (repeatable)
  -U, --unsubscribe FILTER   unsubscribe from FILTER (with -c, to change a kept session)
  -E                         exit once subscribed (to set up a kept session with -c)
  --retain-as-published      MQTT 5 subscription option
  --retry-connect SECONDS    ${retryConnectUsage}

${commonUsage}`;

function subSpecs(): FlagSpec<SubFlags>[] {
  return [
    ...commonFlagSpecs<SubFlags>(),
    { names: ['-v', '--verbose'], values: 0, apply: (f) => (f.verbose = true) },
    {
      names: ['-C', '--count'],
      values: 1,
      apply: (f, v) => {
        if (!/^\d+$/.test(v) || Number(v) < 1) throw new Error(`-C must be a positive whole number, got '${v}'`);
        f.count = Number(v);
      },
    },
    {
      names: ['-W', '--timeout'],
      values: 1,
      apply: (f, v) => {
        if (!/^\d+$/.test(v) || Number(v) < 1) throw new Error(`-W must be a positive whole number, got '${v}'`);
        f.timeout = Number(v);
      },
    },
    { names: ['-F', '--format'], values: 1, apply: (f, v) => (f.format = v) },
    { names: ['--json'], values: 0, apply: (f) => (f.json = true) },
    { names: ['-N'], values: 0, apply: (f) => (f.eol = false) },
    { names: ['-R'], values: 0, apply: (f) => (f.skipRetained = true) },
    { names: ['--retained-only'], values: 0, apply: (f) => (f.retainedOnly = true) },
    { names: ['-T', '--filter-out'], values: 1, apply: (f, v) => f.filterOut.push(v) },
    { names: ['-U', '--unsubscribe'], values: 1, apply: (f, v) => f.unsubscribe.push(v) },
    { names: ['-E'], values: 0, apply: (f) => (f.exitAfterSubscribe = true) },
    { names: ['--retain-as-published'], values: 0, apply: (f) => (f.retainAsPublished = true) },
    retryConnectSpec<SubFlags>(),
  ];
}

function textOrBase64(bytes: Buffer): { text: string } | { base64: string } {
  return isUtf8(bytes) ? { text: bytes.toString('utf8') } : { base64: bytes.toString('base64') };
}

/** --json: payload and correlation data as text when they are UTF-8, else base64 under *Base64 keys. */
export function jsonLine(message: Message): string {
  const out: Record<string, unknown> = { topic: message.topic, qos: message.qos, retain: message.retain };
  const payload = textOrBase64(message.payload);
  if ('text' in payload) out.payload = payload.text;
  else out.payloadBase64 = payload.base64;
  if (message.properties && Object.keys(message.properties).length > 0) {
    const properties: Record<string, unknown> = { ...message.properties };
    const correlation = message.properties.correlationData;
    if (correlation) {
      const value = textOrBase64(correlation);
      delete properties.correlationData;
      if ('text' in value) properties.correlationData = value.text;
      else properties.correlationDataBase64 = value.base64;
    }
    out.properties = properties;
  }
  return JSON.stringify(out);
}

function isoTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** mosquitto_sub's %j: its fields, its order. */
function mosquittoJson(message: Message, now: Date, quotedPayload: boolean): string {
  const head = `{"tst":${JSON.stringify(now.toISOString())},"topic":${JSON.stringify(message.topic)},"qos":${message.qos},"retain":${+message.retain}`;
  const payload = quotedPayload ? JSON.stringify(message.payload.toString('utf8')) : message.payload.toString('utf8');
  return `${head},"payload":${payload}}`;
}

/** Renders -F's format for one message, as bytes (payloads need not be text). */
export function formatMessage(format: string, message: Message, now = new Date()): Buffer {
  const parts: (string | Buffer)[] = [];
  const properties = message.properties ?? {};
  const optional = (value: unknown): string => (value === undefined ? '' : String(value));
  for (let i = 0; i < format.length; i++) {
    const c = format[i] as string;
    if (c === '%' && i + 1 < format.length) {
      const spec = format[++i] as string;
      switch (spec) {
        case '%':
          parts.push('%');
          break;
        case 't':
          parts.push(message.topic);
          break;
        case 'p':
          parts.push(message.payload);
          break;
        case 'q':
          parts.push(String(message.qos));
          break;
        case 'r':
          parts.push(message.retain ? '1' : '0');
          break;
        case 'l':
          parts.push(String(message.payload.length));
          break;
        case 'm':
          parts.push(String(message.packetId ?? 0));
          break;
        case 'x':
          parts.push(message.payload.toString('hex'));
          break;
        case 'X':
          parts.push(message.payload.toString('hex').toUpperCase());
          break;
        case 'A':
          parts.push(optional(properties.topicAlias));
          break;
        case 'C':
          parts.push(optional(properties.contentType));
          break;
        case 'D':
          if (properties.correlationData) parts.push(properties.correlationData);
          break;
        case 'E':
          parts.push(optional(properties.messageExpiryInterval));
          break;
        case 'F':
          parts.push(optional(properties.payloadFormatIndicator));
          break;
        case 'P':
          parts.push((properties.userProperties ?? []).map(([k, v]) => `${k}:${v}`).join(' '));
          break;
        case 'R':
          parts.push(optional(properties.responseTopic));
          break;
        case 'S':
          parts.push((properties.subscriptionIdentifiers ?? []).join(','));
          break;
        case 'I':
          parts.push(isoTime(now));
          break;
        case 'U':
          parts.push(`${Math.floor(now.getTime() / 1000)}.${String(now.getTime() % 1000).padStart(3, '0')}000000`);
          break;
        case 'j':
          parts.push(mosquittoJson(message, now, true));
          break;
        case 'J':
          parts.push(mosquittoJson(message, now, false));
          break;
        default:
          parts.push(`%${spec}`);
      }
    } else if (c === '\\' && i + 1 < format.length) {
      const escaped = format[++i] as string;
      const escapes: Record<string, string> = {
        '\\': '\\',
        '0': '\0',
        a: '\x07',
        e: '\x1b',
        n: '\n',
        r: '\r',
        t: '\t',
        v: '\v',
      };
      parts.push(escapes[escaped] ?? `\\${escaped}`);
    } else {
      parts.push(c);
    }
  }
  return Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'utf8') : part)));
}

function render(flags: SubFlags, message: Message): Buffer {
  let body: Buffer;
  if (flags.json) body = Buffer.from(jsonLine(message), 'utf8');
  else if (flags.format !== undefined) body = formatMessage(flags.format, message);
  else if (flags.verbose) body = Buffer.concat([Buffer.from(`${message.topic} `, 'utf8'), message.payload]);
  else body = message.payload;
  return flags.eol ? Buffer.concat([body, Buffer.from('\n')]) : body;
}

export async function runSub(argv: string[], io: CliIo = processIo()): Promise<number> {
  const flags: SubFlags = {
    ...defaultFlags(),
    verbose: false,
    count: undefined,
    timeout: undefined,
    format: undefined,
    json: false,
    eol: true,
    skipRetained: false,
    retainedOnly: false,
    retainAsPublished: false,
    filterOut: [],
    unsubscribe: [],
    exitAfterSubscribe: false,
    retryConnect: undefined,
  };
  let settings: ReturnType<typeof clientSettings>;
  try {
    parseFlags(argv, flags, subSpecs());
    if (flags.help) {
      io.stdout.write(`${usage}\n`);
      return 0;
    }
    checkFlags(flags);
    settings = clientSettings(flags);
    if (flags.topics.length === 0 && flags.unsubscribe.length === 0) {
      throw new Error('give at least one topic filter to subscribe to (-t)');
    }
  } catch (error) {
    if (!flags.quiet) io.stderr.write(`Error: ${describeFailure(error)}\nUse 'starling sub --help' to see usage.\n`);
    return 1;
  }

  const { url, options } = settings;
  let client: MqttClient | undefined;
  if (flags.debug) {
    options.transport = debugTransport(
      flags.protocolVersion,
      () => client?.clientId ?? options.clientId ?? '',
      io.stderr,
    );
  }
  try {
    client = await openClient(url, options, flags, io);
  } catch (error) {
    // Stopped (Ctrl-C, or io.signal) while waiting for the broker: as a stop once subscribed.
    if (io.signal?.aborted) return 0;
    if (!flags.quiet) io.stderr.write(`Connection error: ${describeFailure(error)}\n`);
    return 1;
  }
  const connected = client;

  return new Promise<number>((resolve) => {
    let finished = false;
    let received = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (code: number): void => {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      io.signal?.removeEventListener('abort', onSignal);
      io.stdout.off('error', onOutputError);
      const { sessionExpiryInterval, ...properties } = flags.properties.disconnect;
      connected
        .end({
          ...(sessionExpiryInterval !== undefined ? { sessionExpiryInterval } : {}),
          ...(Object.keys(properties).length > 0 ? { properties } : {}),
        })
        .catch(() => undefined)
        .then(() => resolve(code));
    };
    const onSignal = (): void => finish(0);
    // `starling sub ... | head -1`: the reader went away, which ends us quietly.
    const onOutputError = (): void => finish(0);
    io.stdout.once('error', onOutputError);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    if (io.signal?.aborted) return finish(0);
    io.signal?.addEventListener('abort', onSignal, { once: true });

    connected.on('message', (message) => {
      if (finished || (flags.skipRetained && message.retain)) return;
      if (flags.filterOut.some((filter) => topicMatches(filter, message.topic))) return;
      // --retained-only: the first live message means the retained ones are all in.
      if (flags.retainedOnly && !message.retain) return finish(0);
      io.stdout.write(render(flags, message));
      received++;
      if (flags.count !== undefined && received >= flags.count) finish(0);
    });
    connected.on('end', () => {
      if (finished) return;
      if (!flags.quiet) io.stderr.write('Error: the connection was lost and could not be re-established\n');
      finish(1);
    });
    if (flags.timeout !== undefined) {
      timer = setTimeout(() => {
        if (!flags.quiet) io.stderr.write('Timed out\n');
        finish(EXIT_TIMEOUT);
      }, flags.timeout * 1000);
    }

    const v5 = flags.protocolVersion === 5;
    const subscribed =
      flags.topics.length === 0
        ? Promise.resolve([] as number[])
        : connected.subscribe(flags.topics, {
            qos: flags.qos,
            ...(v5 && flags.retainAsPublished ? { retainAsPublished: true } : {}),
          });
    subscribed
      .then(async (codes) => {
        const refused = codes.filter((code) => code >= 0x80);
        if (refused.length > 0 && !flags.quiet) {
          flags.topics.forEach((topic, index) => {
            const code = codes[index] ?? 0x80;
            if (code >= 0x80) io.stderr.write(`Warning: subscription to ${topic} refused: ${reasonText(code)}\n`);
          });
        }
        if (refused.length > 0 && refused.length === codes.length) {
          if (!flags.quiet) io.stderr.write('Error: all subscription requests were refused\n');
          return finish(1);
        }
        // -U: leave filters of a kept session (with -c).
        if (flags.unsubscribe.length > 0) await connected.unsubscribe(flags.unsubscribe);
        if (flags.exitAfterSubscribe || flags.topics.length === 0) finish(0);
      })
      .catch((error: unknown) => {
        if (!flags.quiet) io.stderr.write(`Error: subscribe failed: ${describeFailure(error)}\n`);
        finish(1);
      });
  });
}
