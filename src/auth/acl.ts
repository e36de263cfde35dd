import { readFile } from 'node:fs/promises';
import { MqttError } from '../protocol/errors.js';
import type { QoS } from '../protocol/packets.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import { topicMatches } from '../topics/match.js';
import { isValidTopicFilter } from '../topics/validate.js';
import type { Authorizer, ClientIdentity } from './types.js';

/** What a rule grants; 'deny' refuses read and write and wins over any grant. */
export type AclAccess = 'read' | 'write' | 'readwrite' | 'deny';

export interface AclRule {
  access: AclAccess;
  /** A topic filter; in a pattern, whole levels '%u' and '%c' stand for the username and client id. */
  filter: string;
  /** Line in the file, for messages. */
  line: number;
}

/** A parsed ACL file. */
export interface AclFile {
  /** `topic` lines before any `user` line: they apply to clients without a username. */
  anonymous: AclRule[];
  /** `topic` lines after `user NAME`, per username. */
  users: Map<string, AclRule[]>;
  /** `pattern` lines, wherever they appear: they apply to every client. */
  patterns: AclRule[];
}

const ACCESS = new Set<string>(['read', 'write', 'readwrite', 'deny']);

/**
 * Parses a Mosquitto ACL file:
 *
 *     # comment
 *     topic [read|write|readwrite|deny] FILTER      (no access word means readwrite)
 *     user USERNAME
 *     pattern [read|write|readwrite|deny] FILTER   (%u username, %c client id, each a whole level)
 *
 * As in Mosquitto, `topic` lines before the first `user` line apply to anonymous clients only, `topic` lines
 * after `user NAME` apply to that user only, and `pattern` lines apply to every client. Throws MqttError
 * naming the line for anything it does not understand.
 */
export function parseAclFile(text: string, source = 'ACL file'): AclFile {
  const acl: AclFile = { anonymous: [], users: new Map(), patterns: [] };
  let current = acl.anonymous;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const space = line.search(/\s/);
    const keyword = space < 0 ? line : line.slice(0, space);
    const rest = space < 0 ? '' : line.slice(space + 1).trim();
    switch (keyword) {
      case 'user': {
        if (rest === '') throw aclError(source, lineNo, '`user` needs a username');
        let rules = acl.users.get(rest);
        if (rules === undefined) {
          rules = [];
          acl.users.set(rest, rules);
        }
        current = rules;
        break;
      }
      case 'topic':
      case 'pattern': {
        const rule = parseRule(rest, lineNo, source, keyword === 'pattern');
        (keyword === 'pattern' ? acl.patterns : current).push(rule);
        break;
      }
      default:
        throw aclError(source, lineNo, `unknown keyword ${JSON.stringify(keyword)} (expected topic, user or pattern)`);
    }
  }
  return acl;
}

function parseRule(rest: string, line: number, source: string, pattern: boolean): AclRule {
  let access: AclAccess = 'readwrite';
  let filter = rest;
  const space = rest.search(/\s/);
  // The access word is optional; a filter with spaces in it therefore needs one.
  if (space > 0 && ACCESS.has(rest.slice(0, space))) {
    access = rest.slice(0, space) as AclAccess;
    filter = rest.slice(space + 1).trim();
  } else if (ACCESS.has(rest)) {
    throw aclError(source, line, `\`${rest}\` needs a topic filter`);
  }
  if (filter === '') throw aclError(source, line, 'missing topic filter');
  if (!isValidTopicFilter(filter)) throw aclError(source, line, `invalid topic filter ${JSON.stringify(filter)}`);
  if (pattern) {
    for (const level of filter.split('/')) {
      if (level.includes('%') && level !== '%u' && level !== '%c') {
        throw aclError(source, line, `%u and %c must fill a whole topic level, not ${JSON.stringify(level)}`);
      }
    }
  }
  return { access, filter, line };
}

/** The rules in force for one client, with patterns substituted. */
interface Compiled {
  clientId: string;
  username: string | undefined;
  deny: string[];
  read: string[];
  write: string[];
}

/**
 * Authorizes from a Mosquitto-style ACL file (see `parseAclFile`). Without a matching grant nothing is allowed,
 * and a `deny` rule wins over every grant. Rules starting with a wildcard do not reach `$` topics
 * ([MQTT-4.7.2-1]), so `$SYS` is readable only through a rule that names it (e.g. `topic read $SYS/#`).
 *
 * Subscriptions: a filter is refused (0x87) when a deny rule covers it entirely, or when no read rule shares a
 * single topic with it, since it could never deliver anything. Otherwise it is allowed, also when it is broader
 * than the read rules: with `topic read a/#`, both `a/+/b` and `#` may be subscribed, and `#` delivers only the
 * topics under `a`. Delivery checks `canRead` on each topic, so no subscription, wildcard or retained, delivers a
 * topic the client may not read, a deny rule inside an allowed filter included. (Mosquitto 2.0 grants every
 * subscription and filters only on delivery; Starling refuses the hopeless ones so that the client learns.)
 *
 * Patterns: when the username or client id to substitute contains '/', '+' or '#' (or the client has no
 * username for %u), the pattern does not apply, so an identity cannot widen a rule.
 */
export class AclAuthorizer implements Authorizer {
  readonly path: string | undefined;
  #acl: AclFile;
  /** Compiled rules per identity object; the broker keeps one identity per connection. */
  #compiled = new WeakMap<ClientIdentity, Compiled>();

  constructor(acl: AclFile, path?: string) {
    this.#acl = acl;
    this.path = path;
  }

  static async load(path: string): Promise<AclAuthorizer> {
    return new AclAuthorizer(await readAclFile(path), path);
  }

  /** Re-reads the file. When it cannot be read or parsed, the rules loaded before stay in force and this throws. */
  async reload(): Promise<void> {
    if (this.path === undefined) throw new MqttError(ReasonCode.UnspecifiedError, 'no ACL file to reload');
    this.#acl = await readAclFile(this.path);
    this.#compiled = new WeakMap();
  }

  canPublish(client: ClientIdentity, topic: string, _qos: QoS, _retain: boolean): boolean {
    const rules = this.#rules(client);
    return !anyMatches(rules.deny, topic) && anyMatches(rules.write, topic);
  }

  canRead(client: ClientIdentity, topic: string): boolean {
    const rules = this.#rules(client);
    return !anyMatches(rules.deny, topic) && anyMatches(rules.read, topic);
  }

  canSubscribe(client: ClientIdentity, topicFilter: string, _qos: QoS): boolean {
    const rules = this.#rules(client);
    for (const deny of rules.deny) if (filterCovers(deny, topicFilter)) return false;
    for (const read of rules.read) if (filtersIntersect(read, topicFilter)) return true;
    return false;
  }

  #rules(client: ClientIdentity): Compiled {
    const cached = this.#compiled.get(client);
    if (cached !== undefined && cached.clientId === client.clientId && cached.username === client.username) {
      return cached;
    }
    const compiled = compileFor(this.#acl, client);
    this.#compiled.set(client, compiled);
    return compiled;
  }
}

/** Reads and parses an ACL file. */
export async function readAclFile(path: string): Promise<AclFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new MqttError(ReasonCode.UnspecifiedError, `cannot read ACL file ${path}`, { cause });
  }
  return parseAclFile(text, path);
}

function compileFor(acl: AclFile, client: ClientIdentity): Compiled {
  const compiled: Compiled = {
    clientId: client.clientId,
    username: client.username,
    deny: [],
    read: [],
    write: [],
  };
  const own = client.username === undefined ? acl.anonymous : (acl.users.get(client.username) ?? []);
  for (const rule of own) addRule(compiled, rule.access, rule.filter);
  for (const rule of acl.patterns) {
    const filter = substitute(rule.filter, client);
    if (filter !== undefined) addRule(compiled, rule.access, filter);
  }
  return compiled;
}

function addRule(compiled: Compiled, access: AclAccess, filter: string): void {
  if (access === 'deny') compiled.deny.push(filter);
  if (access === 'read' || access === 'readwrite') compiled.read.push(filter);
  if (access === 'write' || access === 'readwrite') compiled.write.push(filter);
}

/** The pattern with %u and %c levels replaced, or undefined when it cannot apply to this client. */
function substitute(pattern: string, client: ClientIdentity): string | undefined {
  if (!pattern.includes('%')) return pattern;
  const levels = pattern.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i];
    if (level === '%u' || level === '%c') {
      const value = level === '%u' ? client.username : client.clientId;
      if (value === undefined || value === '' || /[/+#]/.test(value)) return undefined;
      levels[i] = value;
    }
  }
  return levels.join('/');
}

function anyMatches(filters: readonly string[], topic: string): boolean {
  for (let i = 0; i < filters.length; i++) if (topicMatches(filters[i]!, topic)) return true;
  return false;
}

/**
 * True when every topic `inner` matches is also matched by `outer` (both valid filters), honouring
 * [MQTT-4.7.2-1]: a rule starting with a wildcard does not cover a filter whose first level starts with '$'.
 */
export function filterCovers(outer: string, inner: string): boolean {
  const o = outer.split('/');
  const n = inner.split('/');
  if (inner.charCodeAt(0) === 0x24 && (o[0] === '+' || o[0] === '#')) return false;
  for (let i = 0; i < o.length; i++) {
    const ol = o[i]!;
    if (ol === '#') return true; // also covers the parent: 'a/#' matches 'a'
    if (i >= n.length) return false;
    const nl = n[i]!;
    // inner reaches any depth here; only a '#' in outer (handled above) covers that.
    if (nl === '#') return false;
    if (ol === '+') continue; // covers a literal level and '+'
    if (nl === '+' || nl !== ol) return false;
  }
  // A longer inner filter reaches topics the shorter outer one (without '#') does not.
  return o.length === n.length;
}

/**
 * True when some topic is matched by both filters (both valid), honouring [MQTT-4.7.2-1]: a wildcard first
 * level shares no '$' topic with a literal first level starting with '$'.
 */
export function filtersIntersect(a: string, b: string): boolean {
  const x = a.split('/');
  const y = b.split('/');
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const xl = x[i]!;
    const yl = y[i]!;
    const xWild = xl === '+' || xl === '#';
    const yWild = yl === '+' || yl === '#';
    if (i === 0 && ((xWild && yl.startsWith('$')) || (yWild && xl.startsWith('$')))) return false;
    if (xl === '#' || yl === '#') return true;
    if (!xWild && !yWild && xl !== yl) return false;
  }
  if (x.length === y.length) return true;
  // The longer one must end in a '#' right after the shorter one's end: 'a/#' matches 'a'.
  const longer = x.length > y.length ? x : y;
  return longer.length === n + 1 && longer[n] === '#';
}

function aclError(source: string, line: number, message: string): MqttError {
  return new MqttError(ReasonCode.UnspecifiedError, `${source} line ${line}: ${message}`);
}
