import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { configSchema, type ListenerSettings, type StarlingConfig } from './schema.js';

/** Settings that the command line (and a few STARLING_* variables) can set over the file. */
export interface BrokerFlags {
  host?: string;
  port?: number | string;
  persistence?: boolean | string;
  dataDir?: string;
  logLevel?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  requireClientCert?: boolean | string;
  wsPort?: number | string;
  passwordFile?: string;
  aclFile?: string;
  allowAnonymous?: boolean | string;
}

export type FlagName = keyof BrokerFlags;

/** One setting and where it came from ('--port', 'STARLING_PORT'), named in error messages. */
export interface ConfigOverride<K extends FlagName = FlagName> {
  key: K;
  value: NonNullable<BrokerFlags[K]>;
  source: string;
}

export type ConfigResult = { ok: true; config: StarlingConfig } | { ok: false; errors: string[] };

/** The environment variables Starling reads, and the flag each stands for. */
export const environmentVariables: Readonly<Record<string, FlagName>> = {
  STARLING_HOST: 'host',
  STARLING_PORT: 'port',
  STARLING_LOG_LEVEL: 'logLevel',
  STARLING_PERSISTENCE: 'persistence',
  STARLING_DATA_DIR: 'dataDir',
  STARLING_PASSWORD_FILE: 'passwordFile',
  STARLING_ACL_FILE: 'aclFile',
  STARLING_ALLOW_ANONYMOUS: 'allowAnonymous',
};

const flagSources: Record<FlagName, string> = {
  host: '--host',
  port: '--port',
  persistence: '--no-persistence',
  dataDir: '--data-dir',
  logLevel: '--log-level',
  tlsCert: '--tls-cert',
  tlsKey: '--tls-key',
  tlsCa: '--tls-ca',
  requireClientCert: '--require-client-cert',
  wsPort: '--ws-port',
  passwordFile: '--password-file',
  aclFile: '--acl-file',
  allowAnonymous: '--allow-anonymous',
};

export function overridesFromEnvironment(env: NodeJS.ProcessEnv): ConfigOverride[] {
  const overrides: ConfigOverride[] = [];
  for (const [variable, key] of Object.entries(environmentVariables)) {
    const value = env[variable];
    if (value !== undefined && value !== '') overrides.push({ key, value, source: variable } as ConfigOverride);
  }
  return overrides;
}

export function overridesFromFlags(flags: BrokerFlags): ConfigOverride[] {
  const overrides: ConfigOverride[] = [];
  for (const key of Object.keys(flagSources) as FlagName[]) {
    const value = flags[key];
    if (value !== undefined) overrides.push({ key, value, source: flagSources[key] } as ConfigOverride);
  }
  return overrides;
}

export interface LoadConfigOptions {
  /** Path of a YAML file (--config). */
  file?: string;
  /** Read STARLING_* variables from here (default: none). */
  env?: NodeJS.ProcessEnv;
  /** Command-line settings; they win over the environment, which wins over the file. */
  flags?: BrokerFlags;
}

/** Reads, merges and validates the configuration. Errors name the key, what is wrong and what was given. */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<ConfigResult> {
  let data: unknown = {};
  if (options.file !== undefined) {
    let text: string;
    try {
      text = await readFile(options.file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      return { ok: false, errors: [`--config: cannot read '${options.file}' (${code})`] };
    }
    const parsed = parseYaml(text, options.file);
    if (!parsed.ok) return parsed;
    data = parsed.data;
  }
  const overrides = [
    ...(options.env ? overridesFromEnvironment(options.env) : []),
    ...(options.flags ? overridesFromFlags(options.flags) : []),
  ];
  return resolveConfig(data, overrides);
}

function parseYaml(text: string, file: string): { ok: true; data: unknown } | { ok: false; errors: string[] } {
  const document = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (document.errors.length > 0) {
    return {
      ok: false,
      errors: document.errors.map((e) => {
        const where = ` (${lineAndColumn(text, e.pos[0])})`;
        return `${file}${where}: ${e.message.split('\n')[0]}`;
      }),
    };
  }
  const data = document.toJS() as unknown;
  if (data === null || data === undefined) return { ok: true, data: {} };
  if (typeof data !== 'object' || Array.isArray(data)) {
    return { ok: false, errors: [`${file}: expected a mapping of settings at the top level`] };
  }
  return { ok: true, data };
}

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `line ${line}, column ${offset - before.lastIndexOf('\n')}`;
}

/** Applies the overrides to the file's data (in order: later ones win), then validates. */
export function resolveConfig(fileData: unknown, overrides: readonly ConfigOverride[] = []): ConfigResult {
  const data = structuredClone(fileData ?? {}) as Record<string, unknown>;
  // A section left empty in YAML ('auth:' with every line commented out) reads as null: treat it as absent.
  for (const [key, value] of Object.entries(data)) if (value === null) delete data[key];
  const sources = new Map<string, string>();
  // A WebSocket listener joins after every other setting, so it takes the final host.
  const ordered = [...overrides.filter((o) => o.key !== 'wsPort'), ...overrides.filter((o) => o.key === 'wsPort')];
  for (const override of ordered) applyOverride(data, override, sources);

  const result = configSchema.safeParse(data);
  if (!result.success) return { ok: false, errors: formatIssues(result.error.issues, data, sources) };
  const config = result.data;
  return { ok: true, config: { ...config, listeners: nameListeners(config.listeners) } };
}

function applyOverride(data: Record<string, unknown>, override: ConfigOverride, sources: Map<string, string>): void {
  const set = (path: (string | number)[], value: unknown) => {
    let node = data as Record<string | number, unknown>;
    for (const segment of path.slice(0, -1)) {
      const child = node[segment];
      if (child === undefined) node[segment] = {};
      else if (typeof child !== 'object' || child === null) return; // the file's own type error will be reported
      node = node[segment] as Record<string | number, unknown>;
    }
    node[path[path.length - 1]!] = value;
    sources.set(formatPath(path), override.source);
  };
  const defaultListener = (): Record<string, unknown> | undefined => {
    if (data.listeners === undefined) data.listeners = [{ name: 'default', host: '127.0.0.1', port: 1883 }];
    const listeners = data.listeners;
    if (!Array.isArray(listeners) || typeof listeners[0] !== 'object' || listeners[0] === null) return undefined;
    return listeners[0] as Record<string, unknown>;
  };
  const { key, value } = override;
  switch (key) {
    case 'host':
      if (defaultListener()) set(['listeners', 0, 'host'], value);
      return;
    case 'port':
      if (defaultListener()) set(['listeners', 0, 'port'], toNumber(value));
      return;
    case 'tlsCert':
    case 'tlsKey':
    case 'tlsCa':
    case 'requireClientCert': {
      const listener = defaultListener();
      if (!listener) return;
      // TLS flags make the default listener speak TLS.
      if (listener.protocol === undefined || listener.protocol === 'mqtt') set(['listeners', 0, 'protocol'], 'mqtts');
      else if (listener.protocol === 'ws') set(['listeners', 0, 'protocol'], 'wss');
      const field = { tlsCert: 'cert', tlsKey: 'key', tlsCa: 'ca', requireClientCert: 'requireClientCert' }[key];
      set(['listeners', 0, 'tls', field], key === 'requireClientCert' ? toBoolean(value) : value);
      // If the other half of the pair is missing, the error says which flag supplies it.
      for (const [path, flag] of [
        ['listeners[0].tls.cert', '--tls-cert'],
        ['listeners[0].tls.key', '--tls-key'],
      ] as const) {
        if (!sources.has(path)) sources.set(path, flag);
      }
      return;
    }
    case 'wsPort': {
      const listener = defaultListener();
      const listeners = data.listeners;
      if (!listener || !Array.isArray(listeners)) return;
      const taken = new Set(listeners.map((l) => (l as { name?: unknown })?.name));
      const name = taken.has('ws') ? `ws-${listeners.length}` : 'ws';
      const host = typeof listener.host === 'string' ? listener.host : '127.0.0.1';
      listeners.push({ name, host, protocol: 'ws' });
      set(['listeners', listeners.length - 1, 'port'], toNumber(value));
      return;
    }
    case 'persistence':
      set(['persistence', 'enabled'], toBoolean(value));
      return;
    case 'dataDir':
      set(['persistence', 'dataDir'], value);
      return;
    case 'logLevel':
      set(['log', 'level'], value);
      return;
    case 'passwordFile':
      set(['auth', 'passwordFile'], value);
      return;
    case 'aclFile':
      set(['auth', 'aclFile'], value);
      return;
    case 'allowAnonymous':
      set(['auth', 'allowAnonymous'], toBoolean(value));
      return;
  }
}

/** Strings of digits become numbers; anything else is kept so that the error can show it. */
function toNumber(value: unknown): unknown {
  return typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
}

function toBoolean(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  return value;
}

function nameListeners(listeners: StarlingConfig['listeners'] | z.output<typeof configSchema>['listeners']) {
  const used = new Set(listeners.map((l) => l.name).filter((n): n is string => n !== undefined));
  return listeners.map((listener, i): ListenerSettings => {
    if (listener.name !== undefined) return { ...listener, name: listener.name };
    let name = i === 0 && !used.has('default') ? 'default' : `${listener.protocol}-${listener.port}`;
    if (used.has(name)) name = `${listener.protocol}-${i}`;
    used.add(name);
    return { ...listener, name };
  });
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): { found: boolean; value?: unknown } {
  let node: unknown = data;
  for (const segment of path) {
    if (typeof node !== 'object' || node === null || !(segment in (node as object))) return { found: false };
    node = (node as Record<PropertyKey, unknown>)[segment];
  }
  return { found: true, value: node };
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

function formatIssues(issues: readonly z.core.$ZodIssue[], data: unknown, sources: Map<string, string>): string[] {
  const errors: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) errors.push(`${formatPath([...issue.path, key])}: unknown key`);
      continue;
    }
    const path = formatPath(issue.path);
    const source = sources.get(path);
    const label = `${path || '(top level)'}${source ? ` (${source})` : ''}`;
    const at = valueAt(data, issue.path);
    if (!at.found || at.value === undefined) {
      errors.push(issue.code === 'custom' ? `${label}: ${issue.message}` : `${label}: required (${issue.message})`);
    } else if (issue.code === 'custom') {
      errors.push(`${label}: ${issue.message}`);
    } else {
      errors.push(`${label}: ${issue.message}, got ${describe(at.value)}`);
    }
  }
  return errors;
}
