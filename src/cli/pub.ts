// `starling pub`: publish one message, a file, stdin, or one message per stdin line, with
// mosquitto_pub's flags.

import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { type ClientOptions, MqttClient, MqttError } from '../client/index.js';
import { plainMessage } from '../client/initial-connect.js';
import { reasonText } from '../client/reason-text.js';
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

type MessageSource =
  | { kind: 'message'; value: string }
  | { kind: 'file'; path: string }
  | { kind: 'null' }
  | {
      kind: 'stdin';
    }
  | { kind: 'lines' };

interface PubFlags extends CommonFlags {
  source: MessageSource | undefined;
  sources: number;
  retain: boolean;
  repeat: number;
  repeatDelay: number;
  retryConnect: number | undefined;
}

/** Shared with `starling sub`. */
export const retryConnectUsage = `while the broker cannot be reached yet, keep trying to connect
                             for up to SECONDS (0: until it succeeds), with backoff`;

/** --retry-connect SECONDS: the first connection is retried, as a device waiting for its broker does. */
export function retryConnectSpec<F extends { retryConnect: number | undefined }>(): FlagSpec<F> {
  return {
    names: ['--retry-connect'],
    values: 1,
    apply: (f, v) => {
      if (!/^\d+$/.test(v) || Number(v) > 2_000_000) {
        throw new Error(`--retry-connect must be a whole number of seconds, got '${v}'`);
      }
      f.retryConnect = Number(v);
    },
  };
}

/**
 * Connects as the flags say: without --retry-connect the first failure ends the command, as with
 * mosquitto_pub and mosquitto_sub. Aborting `io.signal` while connecting ends the attempts; with
 * -d, each retry is printed.
 */
export async function openClient(
  url: string,
  options: ClientOptions,
  flags: CommonFlags & { retryConnect: number | undefined },
  io: CliIo,
): Promise<MqttClient> {
  const seconds = flags.retryConnect;
  options.retryInitialConnect = seconds === undefined ? false : seconds === 0 ? true : { timeout: seconds * 1000 };
  const client = new MqttClient(url, options);
  if (flags.debug) {
    client.on('reconnect', (attempt, delay) =>
      io.stderr.write(`Client ${client.clientId} connecting again in ${delay} ms (retry ${attempt})\n`),
    );
  }
  const abort = (): void => void client.end();
  io.signal?.addEventListener('abort', abort, { once: true });
  try {
    await client.connect();
    return client;
  } finally {
    io.signal?.removeEventListener('abort', abort);
  }
}

const usage = `Usage: starling pub {-t topic | -L URL} {-m message | -f file | -l | -n | -s} [options]

Publish options:
  -t, --topic TOPIC          topic to publish to
  -m, --message TEXT         the message
  -f, --file FILE            the content of FILE as the message
  -l, --stdin-line           one message per line of stdin
  -s, --stdin-file           all of stdin as one message
  -n, --null-message         a zero-length message
  -r, --retain               retain the message
  --repeat COUNT             publish the message COUNT times (with -m, -f, -n or -s)
  --repeat-delay SECONDS     wait between repeated messages
  --retry-connect SECONDS    ${retryConnectUsage}

${commonUsage}`;

function pubSpecs(): FlagSpec<PubFlags>[] {
  const source = (f: PubFlags, value: MessageSource): void => {
    f.source = value;
    f.sources++;
  };
  return [
    ...commonFlagSpecs<PubFlags>(),
    { names: ['-m', '--message'], values: 1, apply: (f, v) => source(f, { kind: 'message', value: v }) },
    { names: ['-f', '--file'], values: 1, apply: (f, v) => source(f, { kind: 'file', path: v }) },
    { names: ['-l', '--stdin-line'], values: 0, apply: (f) => source(f, { kind: 'lines' }) },
    { names: ['-s', '--stdin-file'], values: 0, apply: (f) => source(f, { kind: 'stdin' }) },
    { names: ['-n', '--null-message'], values: 0, apply: (f) => source(f, { kind: 'null' }) },
    { names: ['-r', '--retain'], values: 0, apply: (f) => (f.retain = true) },
    {
      names: ['--repeat'],
      values: 1,
      apply: (f, v) => {
        if (!/^\d+$/.test(v) || Number(v) < 1) throw new Error(`--repeat must be a positive whole number, got '${v}'`);
        f.repeat = Number(v);
      },
    },
    {
      names: ['--repeat-delay'],
      values: 1,
      apply: (f, v) => {
        if (!/^\d+(\.\d+)?$/.test(v)) throw new Error(`--repeat-delay must be a number of seconds, got '${v}'`);
        f.repeatDelay = Number(v);
      },
    },
    retryConnectSpec<PubFlags>(),
  ];
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

/** What went wrong, for a person or a script reading stderr. */
export function describeFailure(error: unknown): string {
  if (error instanceof MqttError) {
    // The client's own summaries (gave up after n attempts, ...) quote their cause already.
    if (error.cause instanceof MqttError) return plainMessage(error);
    const cause = error.cause instanceof Error ? error.cause.message : undefined;
    return cause ?? (error.reasonCode >= 0x80 ? reasonText(error.reasonCode) : error.message);
  }
  return error instanceof Error ? error.message : String(error);
}

export async function runPub(argv: string[], io: CliIo = processIo()): Promise<number> {
  const flags: PubFlags = {
    ...defaultFlags(),
    source: undefined,
    sources: 0,
    retain: false,
    repeat: 1,
    repeatDelay: 0,
    retryConnect: undefined,
  };
  let settings: ReturnType<typeof clientSettings>;
  try {
    parseFlags(argv, flags, pubSpecs());
    if (flags.help) {
      io.stdout.write(`${usage}\n`);
      return 0;
    }
    checkFlags(flags);
    settings = clientSettings(flags);
    if (flags.topics.length !== 1 || flags.sources === 0) {
      throw new Error('both a topic (-t) and a message (-m, -f, -l, -n or -s) must be given');
    }
    if (flags.sources > 1) throw new Error('give only one of -m, -f, -l, -n and -s');
  } catch (error) {
    if (!flags.quiet) io.stderr.write(`Error: ${describeFailure(error)}\nUse 'starling pub --help' to see usage.\n`);
    return 1;
  }
  const topic = flags.topics[0] as string;
  const source = flags.source as MessageSource;
  let payload: Buffer | undefined;
  try {
    if (source.kind === 'message') payload = Buffer.from(source.value, 'utf8');
    else if (source.kind === 'null') payload = Buffer.alloc(0);
    else if (source.kind === 'file') payload = await readFile(source.path);
    else if (source.kind === 'stdin') payload = await readAll(io.stdin);
  } catch (error) {
    if (!flags.quiet) io.stderr.write(`Error: cannot read the message: ${describeFailure(error)}\n`);
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
  // One message: fail fast once connected. Line mode is long-lived and rides out broker restarts.
  if (source.kind !== 'lines') options.reconnect = false;
  try {
    client = await openClient(url, options, flags, io);
  } catch (error) {
    if (!flags.quiet) io.stderr.write(`Connection error: ${describeFailure(error)}\n`);
    return 1;
  }

  const publishOptions = {
    qos: flags.qos,
    retain: flags.retain,
    ...(flags.protocolVersion === 5 && Object.keys(flags.properties.publish).length > 0
      ? { properties: flags.properties.publish }
      : {}),
  };
  let code = 0;
  try {
    if (payload !== undefined) {
      for (let i = 0; i < flags.repeat; i++) {
        if (i > 0 && flags.repeatDelay > 0)
          await new Promise((resolve) => setTimeout(resolve, flags.repeatDelay * 1000));
        await client.publish(topic, payload, publishOptions);
      }
    } else {
      // Many publishes in flight at once, but a bounded number, so a large input does not pile up.
      const pending = new Set<Promise<void>>();
      let failure: unknown;
      const lines = createInterface({ input: io.stdin, crlfDelay: Number.POSITIVE_INFINITY });
      for await (const line of lines) {
        const sent = client.publish(topic, line, publishOptions).then(
          () => void pending.delete(sent),
          (error: unknown) => {
            pending.delete(sent);
            failure ??= error;
          },
        );
        pending.add(sent);
        if (pending.size >= 512) await Promise.race(pending);
        if (failure) break;
      }
      await Promise.all(pending);
      if (failure) throw failure;
    }
  } catch (error) {
    if (!flags.quiet) io.stderr.write(`Error: publish failed: ${describeFailure(error)}\n`);
    code = 1;
  }
  const disconnect = flags.properties.disconnect;
  const { sessionExpiryInterval, ...properties } = disconnect;
  await client
    .end({
      ...(sessionExpiryInterval !== undefined ? { sessionExpiryInterval } : {}),
      ...(Object.keys(properties).length > 0 ? { properties } : {}),
    })
    .catch(() => undefined);
  return code;
}
