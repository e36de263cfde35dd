import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { AclAuthorizer, filterCovers, filtersIntersect, parseAclFile } from '../../src/auth/acl.js';
import type { ClientIdentity } from '../../src/auth/types.js';
import { MqttError } from '../../src/protocol/errors.js';
import { topicMatches } from '../../src/topics/match.js';
import { topicFilter, topicName } from '../topics/arbitraries.js';

const FILE = `
# Anonymous clients: only the weather, and the broker's uptime.
topic read weather/#
topic read $SYS/broker/uptime

user alice
topic readwrite home/alice/#
topic read sensors/+/temperature
topic deny sensors/secret/#
topic write log

user bob
topic #

# Every client may use its own inbox, and publish its status.
pattern readwrite inbox/%c/#
pattern write status/%u
`;

const anonymous: ClientIdentity = { clientId: 'anon-1' };
const alice: ClientIdentity = { clientId: 'a1', username: 'alice' };
const bob: ClientIdentity = { clientId: 'b1', username: 'bob' };
const acl = () => new AclAuthorizer(parseAclFile(FILE));

test('parseAclFile sorts topic lines by user and collects patterns', () => {
  const parsed = parseAclFile(FILE);
  assert.deepEqual(
    parsed.anonymous.map((r) => [r.access, r.filter]),
    [
      ['read', 'weather/#'],
      ['read', '$SYS/broker/uptime'],
    ],
  );
  assert.deepEqual([...parsed.users.keys()], ['alice', 'bob']);
  assert.deepEqual(
    parsed.users.get('bob')!.map((r) => [r.access, r.filter]),
    [['readwrite', '#']],
  );
  assert.deepEqual(
    parsed.patterns.map((r) => [r.access, r.filter, r.line]),
    [
      ['readwrite', 'inbox/%c/#', 16],
      ['write', 'status/%u', 17],
    ],
  );
});

test('a topic filter containing spaces is read whole after the access word', () => {
  const parsed = parseAclFile('topic read a b/c d\ntopic x y');
  assert.deepEqual(
    parsed.anonymous.map((r) => [r.access, r.filter]),
    [
      ['read', 'a b/c d'],
      ['readwrite', 'x y'],
    ],
  );
});

test('parse errors name the file and line', () => {
  const cases: [string, RegExp][] = [
    ['topic read a\nsubscribe b', /acl line 2: unknown keyword "subscribe"/],
    ['user alice\ntopic read a/#/b', /acl line 2: invalid topic filter/],
    ['\n\ntopic read', /acl line 3: `read` needs a topic filter/],
    ['topic', /acl line 1: missing topic filter/],
    ['user', /acl line 1: `user` needs a username/],
    ['pattern read home/user-%u/#', /acl line 1: %u and %c must fill a whole topic level/],
    ['pattern read a+/%c', /acl line 1: invalid topic filter/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseAclFile(text, 'acl'),
      (err) => err instanceof MqttError && message.test(err.message),
      text,
    );
  }
});

test('topic lines before any user line apply to anonymous clients only', () => {
  const a = acl();
  assert.equal(a.canRead(anonymous, 'weather/paris'), true);
  assert.equal(a.canPublish(anonymous, 'weather/paris', 0, false), false, 'read does not grant write');
  assert.equal(a.canRead(alice, 'weather/paris'), false, 'named users do not inherit the anonymous rules');
  assert.equal(a.canRead(anonymous, 'home/alice/door'), false);
});

test("a user's topic lines apply to that user only; no rule means no access", () => {
  const a = acl();
  assert.equal(a.canRead(alice, 'home/alice/door'), true);
  assert.equal(a.canPublish(alice, 'home/alice/door', 1, true), true);
  assert.equal(a.canPublish(alice, 'log', 0, false), true);
  assert.equal(a.canRead(alice, 'log'), false, 'write does not grant read');
  assert.equal(a.canRead(alice, 'home/bob/door'), false);
  assert.equal(a.canRead({ clientId: 'x', username: 'carol' }, 'weather/paris'), false, 'unlisted user');
  assert.equal(a.canRead(bob, 'home/alice/door'), true);
  assert.equal(a.canPublish(bob, 'anything/at/all', 2, false), true);
});

test('deny rules win over grants', () => {
  const a = acl();
  assert.equal(a.canRead(alice, 'sensors/kitchen/temperature'), true);
  assert.equal(a.canRead(alice, 'sensors/secret/temperature'), false);
  const both = new AclAuthorizer(parseAclFile('topic deny a/b\ntopic a/#'));
  assert.equal(both.canRead(anonymous, 'a/b'), false);
  assert.equal(both.canPublish(anonymous, 'a/b', 0, false), false);
  assert.equal(both.canRead(anonymous, 'a/c'), true);
});

test('[MQTT-4.7.2-1] $SYS is readable only where a rule names it', () => {
  const a = acl();
  assert.equal(a.canRead(bob, '$SYS/broker/uptime'), false, "bob's '#' does not reach $SYS");
  assert.equal(a.canSubscribe(bob, '$SYS/#', 0), false);
  assert.equal(a.canRead(anonymous, '$SYS/broker/uptime'), true);
  assert.equal(a.canRead(anonymous, '$SYS/broker/clients'), false);
  const admin = new AclAuthorizer(parseAclFile('user admin\ntopic read $SYS/#'));
  assert.equal(admin.canSubscribe({ clientId: 'x', username: 'admin' }, '$SYS/broker/+', 0), true);
});

test('patterns substitute %c and %u and apply to every client', () => {
  const a = acl();
  assert.equal(a.canPublish(alice, 'inbox/a1/x', 0, false), true);
  assert.equal(a.canRead(alice, 'inbox/a1/x'), true);
  assert.equal(a.canRead(alice, 'inbox/b1/x'), false, "another client's inbox");
  assert.equal(a.canRead(anonymous, 'inbox/anon-1/x'), true, 'patterns apply to anonymous clients too');
  assert.equal(a.canPublish(alice, 'status/alice', 0, false), true);
  assert.equal(a.canPublish(bob, 'status/alice', 0, false), true, "bob's own '#' grants it");
  assert.equal(a.canPublish({ clientId: 'c', username: 'carol' }, 'status/alice', 0, false), false);
  assert.equal(a.canPublish(anonymous, 'status/anon-1', 0, false), false, '%u does not apply without a username');
});

test('an identity containing / + or # cannot widen a pattern', () => {
  const a = acl();
  assert.equal(a.canRead({ clientId: '+' }, 'inbox/other/x'), false);
  assert.equal(a.canRead({ clientId: '#' }, 'inbox/other/x'), false);
  assert.equal(a.canRead({ clientId: 'x/y' }, 'inbox/x/y/z'), false);
  assert.equal(a.canPublish({ clientId: 'c', username: '#' }, 'status/alice', 0, false), false);
});

test('a subscription is allowed when a read rule shares topics with it; delivery is filtered by canRead', () => {
  const a = acl();
  assert.equal(a.canSubscribe(anonymous, 'weather/#', 0), true);
  assert.equal(a.canSubscribe(anonymous, 'weather/+/today', 1), true);
  assert.equal(a.canSubscribe(anonymous, 'weather', 1), true, "'weather/#' matches 'weather' itself");
  assert.equal(a.canSubscribe(anonymous, '#', 0), true, 'broader than the rules, as in Mosquitto');
  assert.equal(a.canRead(anonymous, 'home/alice/door'), false, '... but it delivers only readable topics');
  assert.equal(a.canSubscribe(anonymous, '+/paris', 0), true);
  assert.equal(a.canSubscribe(anonymous, 'home/#', 0), false, 'no read rule could ever deliver through it');
  assert.equal(a.canSubscribe(alice, 'sensors/+/temperature', 0), true);
  assert.equal(a.canSubscribe(alice, 'sensors/#', 0), true);
  assert.equal(a.canSubscribe(alice, 'log', 0), false, 'write-only');
  assert.equal(a.canSubscribe(bob, '$SYS/#', 0), false, "bob's '#' shares no $ topic");
  assert.equal(a.canSubscribe(anonymous, '$SYS/#', 0), true);
});

test('a subscription wholly inside a deny rule is refused; a wider one delivers only what canRead allows', () => {
  const a = acl();
  assert.equal(a.canSubscribe(alice, 'sensors/secret/temperature', 0), false);
  const wide = new AclAuthorizer(parseAclFile('topic read a/#\ntopic deny a/secret/#'));
  assert.equal(wide.canSubscribe(anonymous, 'a/secret/+', 0), false);
  assert.equal(wide.canSubscribe(anonymous, 'a/#', 0), true);
  assert.equal(wide.canRead(anonymous, 'a/open'), true);
  assert.equal(wide.canRead(anonymous, 'a/secret/x'), false, 'the broker filters delivery through canRead');
});

test('filterCovers: every topic the inner filter matches is matched by the outer one', () => {
  const table: [string, string, boolean][] = [
    ['#', '#', true],
    ['#', 'a/+/b', true],
    ['a/#', 'a', true],
    ['a/#', 'a/#', true],
    ['a/#', '#', false],
    ['a', 'a/#', false],
    ['a/+', 'a/b', true],
    ['a/+', 'a/+', true],
    ['a/+', 'a/#', false],
    ['a/b', 'a/+', false],
    ['+/+', '/', true],
    ['#', '$SYS/#', false],
    ['+/#', '$SYS/x', false],
    ['$SYS/#', '$SYS/+/x', true],
  ];
  for (const [outer, inner, expected] of table)
    assert.equal(filterCovers(outer, inner), expected, `${outer} ⊇ ${inner}`);
  // Soundness on random filters: a covered filter never reaches a topic the rule does not.
  fc.assert(
    fc.property(topicFilter, topicFilter, fc.array(topicName, { maxLength: 20 }), (outer, inner, topics) => {
      if (!filterCovers(outer, inner)) return;
      for (const t of topics)
        if (topicMatches(inner, t)) assert.ok(topicMatches(outer, t), `${outer} ⊇ ${inner} at ${t}`);
    }),
    { numRuns: 3000 },
  );
});

test('filtersIntersect: true exactly when some topic matches both filters', () => {
  const table: [string, string, boolean][] = [
    ['#', '#', true],
    ['a/#', '#', true],
    ['a/#', 'a', true],
    ['a', 'a/#', true],
    ['a', 'a/+', false],
    ['a/+', '+/b', true],
    ['a/b', 'a/c', false],
    ['a/+/c', 'a/b/d', false],
    ['+', '/', false],
    ['+/+', '/', true],
    ['#', '$SYS/#', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/+', true],
    ['+', '+', true],
  ];
  for (const [a, b, expected] of table) {
    assert.equal(filtersIntersect(a, b), expected, `${a} ∩ ${b}`);
    assert.equal(filtersIntersect(b, a), expected, `${b} ∩ ${a}`);
  }
  // Completeness on random filters: a topic matched by both proves they intersect. Soundness: when they
  // intersect, a witness built level by level is matched by both.
  const witness = (a: string, b: string): string => {
    const x = a.split('/');
    const y = b.split('/');
    const out: string[] = [];
    for (let i = 0; i < Math.max(x.length, y.length); i++) {
      const xl = x[i];
      const yl = y[i];
      if (xl === '#' || yl === '#' || xl === undefined || yl === undefined) {
        for (const l of (xl === '#' || xl === undefined ? y : x).slice(i)) {
          if (l === '#') break;
          out.push(l === '+' ? 'w' : l);
        }
        break;
      }
      out.push(xl !== '+' ? xl : yl !== '+' ? yl : 'w');
    }
    return out.length === 0 ? 'w' : out.join('/');
  };
  fc.assert(
    fc.property(topicFilter, topicFilter, fc.array(topicName, { maxLength: 30 }), (a, b, topics) => {
      if (filtersIntersect(a, b)) {
        const t = witness(a, b);
        assert.ok(topicMatches(a, t) && topicMatches(b, t), `${a} ∩ ${b}: witness ${t}`);
      }
      for (const t of topics) {
        if (topicMatches(a, t) && topicMatches(b, t)) assert.ok(filtersIntersect(a, b), `${a} ∩ ${b} at ${t}`);
      }
    }),
    { numRuns: 3000 },
  );
});

test('load reads a file; reload keeps the old rules when the new file is broken', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'starling-acl-'));
  try {
    const path = join(dir, 'acl');
    await writeFile(path, 'topic read a/#\n');
    const a = await AclAuthorizer.load(path);
    assert.equal(a.canRead(anonymous, 'a/b'), true);
    await writeFile(path, 'topic read b/#\n');
    await a.reload();
    assert.equal(a.canRead(anonymous, 'a/b'), false, 'cached rules are dropped on reload');
    assert.equal(a.canRead(anonymous, 'b/c'), true);
    await writeFile(path, 'topic read c/#\ntopik read d\n');
    await assert.rejects(a.reload(), (err) => err instanceof MqttError && /line 2/.test(err.message));
    assert.equal(a.canRead(anonymous, 'b/c'), true);
    await assert.rejects(AclAuthorizer.load(join(dir, 'missing')), MqttError);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('rules are compiled once per identity and follow a changed username', () => {
  const a = acl();
  const id: ClientIdentity = { clientId: 'c' };
  assert.equal(a.canRead(id, 'weather/x'), true);
  id.username = 'alice';
  assert.equal(a.canRead(id, 'weather/x'), false);
  assert.equal(a.canRead(id, 'home/alice/x'), true);
});
