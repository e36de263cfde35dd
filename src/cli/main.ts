#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { type BrokerFlags, loadConfig } from '../config/load.js';
import type { StarlingConfig } from '../config/schema.js';
import { createLogger } from '../util/logger.js';
import { serveUntilSignal, startBroker } from './broker.js';

/** Commands written in their own modules, each `run*(argv) => Promise<exit code>`, loaded only when used. */
const delegated = {
  pub: { module: './pub.js', run: 'runPub', summary: 'publish messages (flags as mosquitto_pub)' },
  sub: { module: './sub.js', run: 'runSub', summary: 'subscribe and print messages (flags as mosquitto_sub)' },
  bench: { module: './bench.js', run: 'runBench', summary: 'load-test a broker' },
  passwd: { module: './passwd.js', run: 'runPasswd', summary: 'manage a password file (as mosquitto_passwd)' },
} as const;

type DelegatedName = keyof typeof delegated;

export interface MainIo {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  signals: NodeJS.EventEmitter;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** The `run*` function exported by a command's module, or undefined when the module or export is missing. */
export async function loadCommand(
  specifier: string,
  exportName: string,
): Promise<((argv: string[]) => Promise<number>) | undefined> {
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    return undefined;
  }
  const run = loaded[exportName];
  return typeof run === 'function' ? (run as (argv: string[]) => Promise<number>) : undefined;
}

async function runDelegated(name: DelegatedName, argv: string[], io: MainIo): Promise<number> {
  const run = await loadCommand(delegated[name].module, delegated[name].run);
  if (run === undefined) {
    io.stderr.write(`starling ${name}: not available yet\n`);
    return 1;
  }
  return run(argv);
}

interface BrokerCommandOptions {
  config?: string;
  host?: string;
  port?: string;
  persistence?: boolean;
  dataDir?: string;
  logLevel?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  requireClientCert?: boolean;
  wsPort?: string;
  passwordFile?: string;
  aclFile?: string;
  allowAnonymous?: boolean;
  adminPort?: number;
  adminHost?: string;
}

function buildProgram(io: MainIo, onBroker: (options: BrokerCommandOptions, command: Command) => void): Command {
  const program = new Command('starling')
    .description('Starling: an MQTT 3.1, 3.1.1 and 5.0 broker, client and toolkit')
    .version(version(), '-v, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('broker')
    .description('run the broker (default: mqtt://127.0.0.1:1883, anonymous clients on loopback only)')
    .option('-c, --config <file>', 'YAML configuration file (flags override it)')
    .option('--host <host>', 'address of the default listener (default 127.0.0.1)')
    .option('-p, --port <port>', 'port of the default listener, 0 for any free port (default 1883)')
    .option('--no-persistence', 'keep sessions and retained messages in memory only')
    .option('--data-dir <dir>', 'directory of the persistent store (default ./data)')
    .addOption(
      new Option('--log-level <level>', 'log level (default info)').choices([
        'fatal',
        'error',
        'warn',
        'info',
        'debug',
        'trace',
        'silent',
      ]),
    )
    .option('--tls-cert <file>', 'PEM certificate: the default listener speaks TLS (mqtts)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--tls-ca <file>', 'PEM CA bundle for client certificates')
    .option('--require-client-cert', 'mutual TLS: refuse clients without a certificate signed by --tls-ca')
    .option('--ws-port <port>', 'also listen for MQTT over WebSocket on this port (same host, path /mqtt)')
    .option('--password-file <file>', 'password file (see starling passwd)')
    .option('--acl-file <file>', 'ACL file (Mosquitto syntax)')
    .option('--allow-anonymous', 'accept clients without credentials on every listener')
    .option('--no-allow-anonymous', 'refuse clients without credentials, loopback included')
    .option(
      '--admin-port <port>',
      'serve /health, /metrics and the dashboard over HTTP on this port (0 for any free port)',
      parsePortFlag,
    )
    .option('--admin-host <host>', 'address of the admin HTTP server (default 127.0.0.1); turns it on')
    .action((options: BrokerCommandOptions, command: Command) => onBroker(options, command));

  for (const [name, { summary }] of Object.entries(delegated)) {
    program.command(`${name} [args...]`).description(summary).helpOption(false).allowUnknownOption();
  }
  return program;
}

/** Only the flags given on the command line, so that they override the file and nothing else does. */
function givenFlags(options: BrokerCommandOptions, command: Command): BrokerFlags {
  const flags: BrokerFlags = {};
  const given = (key: keyof BrokerCommandOptions) => command.getOptionValueSource(key) === 'cli';
  const copy: (keyof BrokerFlags & keyof BrokerCommandOptions)[] = [
    'host',
    'port',
    'persistence',
    'dataDir',
    'logLevel',
    'tlsCert',
    'tlsKey',
    'tlsCa',
    'requireClientCert',
    'wsPort',
    'passwordFile',
    'aclFile',
    'allowAnonymous',
  ];
  for (const key of copy) {
    const value = options[key];
    if (given(key) && value !== undefined) (flags as Record<string, unknown>)[key] = value;
  }
  return flags;
}

async function runBrokerCommand(options: BrokerCommandOptions, command: Command, io: MainIo): Promise<number> {
  const result = await loadConfig({
    ...(options.config !== undefined ? { file: options.config } : {}),
    env: io.env,
    flags: givenFlags(options, command),
  });
  if (!result.ok) {
    io.stderr.write(`starling broker: invalid configuration\n${result.errors.map((e) => `  ${e}\n`).join('')}`);
    return 2;
  }
  const config = withAdminFlags(result.config, options, command, io.env);
  const logger = createLogger(config.log.level, io.stdout);
  let running: Awaited<ReturnType<typeof startBroker>>;
  try {
    running = await startBroker(config, { logger, version: version() });
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    logger.fatal(`cannot start: ${detail}`);
    io.stderr.write(`starling broker: cannot start: ${detail}\n`);
    return 1;
  }
  return serveUntilSignal(running, { stderr: io.stderr, signals: io.signals }, logger);
}

function parsePortFlag(value: string): number {
  if (!/^\d{1,5}$/.test(value.trim()) || Number(value) > 65535) {
    throw new InvalidArgumentError('expected a number from 0 to 65535');
  }
  return Number(value);
}

/**
 * --admin-port and --admin-host turn the admin server on over whatever the file says; STARLING_ADMIN_TOKEN sets
 * its API token, so that the secret need not be written in the file or shown in the process list.
 */
function withAdminFlags(
  config: StarlingConfig,
  options: BrokerCommandOptions,
  command: Command,
  env: NodeJS.ProcessEnv,
): StarlingConfig {
  const admin = { ...config.admin };
  const given = (key: keyof BrokerCommandOptions) => command.getOptionValueSource(key) === 'cli';
  if (given('adminPort') && options.adminPort !== undefined) {
    admin.enabled = true;
    admin.port = options.adminPort;
  }
  if (given('adminHost') && options.adminHost) {
    admin.enabled = true;
    admin.host = options.adminHost;
  }
  const token = env.STARLING_ADMIN_TOKEN;
  if (token !== undefined && token !== '') admin.token = token;
  return { ...config, admin };
}

/** The `starling` command line. Resolves to the process exit code. */
export async function main(argv: string[], io: MainIo): Promise<number> {
  const first = argv[0];
  if (first !== undefined && first in delegated) return runDelegated(first as DelegatedName, argv.slice(1), io);

  let pending: Promise<number> | undefined;
  const program = buildProgram(io, (options, command) => {
    pending = runBrokerCommand(options, command, io);
  });
  if (argv.length === 0) {
    program.outputHelp();
    return 0;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
      if (error.code === 'commander.help') return 0;
      // Unknown flags and bad values: a usage error, like an invalid configuration.
      return 2;
    }
    throw error;
  }
  if (pending) return pending;
  program.outputHelp({ error: true });
  return 2;
}

function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    // npm's bin link is a symlink; the module URL is the real path.
    return pathToFileURL(realpathSync(script)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, signals: process })
    .then((code) => {
      process.exitCode = code;
      // Listeners and timers are closed by now; exit promptly even if a stray handle lingers.
      setTimeout(() => process.exit(code), 100).unref();
    })
    .catch((error: unknown) => {
      process.stderr.write(`starling: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(70);
    });
}
