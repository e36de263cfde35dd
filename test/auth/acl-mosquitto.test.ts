// Differential test: the same ACL file and password file in Mosquitto and in Starling's AclAuthorizer and
// PasswordFileAuthenticator must decide the same. Mosquitto runs the file; each client publishes every topic and
// subscribes to '#'; Mosquitto's PUBACKs and deliveries are compared with canPublish and canRead.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import mqtt from 'mqtt';
import { AclAuthorizer, parseAclFile } from '../../src/auth/acl.js';
import { PasswordFileAuthenticator, parsePasswordFile } from '../../src/auth/password-file.js';
import type { ClientIdentity } from '../../src/auth/types.js';
import { type MosquittoInstance, mosquittoSkipReason, startMosquitto } from '../helpers/mosquitto.js';

const ACL = `# anonymous clients
topic readwrite a/#
topic deny a/secret/#
topic read r/#

user alice
topic readwrite b/#
topic write w/#
topic read a/#

user bob
topic read b/#
topic readwrite c/+/x

pattern readwrite inbox/%c/#
pattern readwrite u/%u/#
`;

// Made with mosquitto_passwd 2.0.11: alice/secret ($7$ PBKDF2-SHA512) and bob/pw2 ($6$ SHA-512).
const PASSWORDS = `alice:$7$101$+N8k7cuLW+KJPxWm$HtxLPImZgeuCc+/YDKTQMqSOZDnZv1iBfxBnQP7XUZnbA1Fpa6JUdL5pKHtfXMhlIdLOGkGq9hiqC8s0QlQc8A==
bob:$6$PZjlQxBD/CK24/I8$SR0tmHTMXXdQ/ku9XKQNNBqQ4CfuLHeSL9hmc8GNOpY6kKfQosSuw7YYoQeW2icM05TBAyuC0/J8O3ct2GPJCQ==
`;

const TOPICS = [
  'a/1',
  'a/secret/x',
  'b/1',
  'c/1/x',
  'c/1/y',
  'r/1',
  'w/1',
  'inbox/anon-1/x',
  'inbox/a1/x',
  'inbox/b1/x',
  'u/alice/x',
  'u/bob/x',
  'z',
];

interface Party {
  identity: ClientIdentity;
  password?: string;
}
const PARTIES: Party[] = [
  { identity: { clientId: 'anon-1' } },
  { identity: { clientId: 'a1', username: 'alice' }, password: 'secret' },
  { identity: { clientId: 'b1', username: 'bob' }, password: 'pw2' },
];

let dir: string;
let mosquitto: MosquittoInstance | undefined;

before(async () => {
  if (mosquittoSkipReason) return;
  dir = await mkdtemp(join(tmpdir(), 'starling-acl-mosquitto-'));
  await writeFile(join(dir, 'acl'), ACL);
  await writeFile(join(dir, 'passwords'), PASSWORDS, { mode: 0o600 });
  mosquitto = await startMosquitto({
    config: [`acl_file ${join(dir, 'acl')}`, `password_file ${join(dir, 'passwords')}`],
  });
});

after(async () => {
  await mosquitto?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function connect(port: number, party: Party, password = party.password): Promise<mqtt.MqttClient> {
  const client = mqtt.connect({
    host: '127.0.0.1',
    port,
    protocolVersion: 5,
    clientId: party.identity.clientId,
    username: party.identity.username,
    password,
    reconnectPeriod: 0,
    connectTimeout: 3000,
  });
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
  });
}

test('Mosquitto and Starling accept and refuse the same logins from one password file', {
  skip: mosquittoSkipReason,
}, async () => {
  const auth = new PasswordFileAuthenticator(parsePasswordFile(PASSWORDS), { throttle: false, allowAnonymous: true });
  const attempts: [Party, string | undefined][] = [
    [PARTIES[1]!, 'secret'],
    [PARTIES[1]!, 'Secret'],
    [PARTIES[2]!, 'pw2'],
    [PARTIES[2]!, 'secret'],
    [{ identity: { clientId: 'x', username: 'carol' } }, 'secret'],
    [PARTIES[0]!, undefined],
  ];
  for (const [party, password] of attempts) {
    const ours = await auth.authenticate({
      clientId: party.identity.clientId,
      protocolVersion: 5,
      ...(party.identity.username !== undefined ? { username: party.identity.username } : {}),
      ...(password !== undefined ? { password: Buffer.from(password) } : {}),
    });
    let theirs: number;
    try {
      const client = await connect(mosquitto!.port, party, password);
      client.end(true);
      theirs = 0;
    } catch (err) {
      theirs = (err as { code?: number }).code ?? -1;
    }
    // Both refuse the same logins; the reason code differs: Mosquitto 2.0 answers a wrong password with 0x87 Not
    // authorized, Starling with 0x86 Bad User Name or Password (0x86 for bad credentials, 0x87 for anonymous clients
    // that are not allowed, so that a client can tell the two apart).
    const who = `${party.identity.username ?? 'anonymous'} / ${password}`;
    assert.equal(ours.ok, theirs === 0, who);
    if (!ours.ok) {
      assert.equal(ours.reasonCode, 0x86, who);
      assert.ok(theirs === 0x86 || theirs === 0x87, `${who}: Mosquitto refused with ${theirs}`);
    }
  }
});

test('Mosquitto and Starling allow the same publications and deliveries from one ACL file', {
  skip: mosquittoSkipReason,
}, async () => {
  const acl = new AclAuthorizer(parseAclFile(ACL));
  const clients = await Promise.all(PARTIES.map((p) => connect(mosquitto!.port, p)));
  try {
    const received = PARTIES.map(() => new Set<string>());
    clients.forEach((client, i) => {
      client.on('message', (topic, payload) => received[i]!.add(`${payload.toString()} -> ${topic}`));
    });
    await Promise.all(clients.map((c) => c.subscribeAsync('#', { qos: 1 })));

    const published: { from: number; topic: string }[] = [];
    for (const [i, client] of clients.entries()) {
      for (const topic of TOPICS) {
        const allowed = await client.publishAsync(topic, PARTIES[i]!.identity.clientId, { qos: 1 }).then(
          () => true,
          (err: { code?: number }) => {
            assert.equal(err.code, 0x87, `${topic}: refused with Not authorized`);
            return false;
          },
        );
        const who = PARTIES[i]!.identity.username ?? 'anonymous';
        assert.equal(acl.canPublish(PARTIES[i]!.identity, topic, 1, false), allowed, `${who} publishes ${topic}`);
        if (allowed) published.push({ from: i, topic });
      }
    }

    const expected = PARTIES.map((reader) => {
      const set = new Set<string>();
      for (const { from, topic } of published) {
        if (acl.canRead(reader.identity, topic)) set.add(`${PARTIES[from]!.identity.clientId} -> ${topic}`);
      }
      return set;
    });
    // Deliveries settle within a few ms; wait (bounded) until every expected one has arrived.
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && received.some((r, i) => r.size < expected[i]!.size)) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise((resolve) => setTimeout(resolve, 100)); // and give unexpected ones a chance to show up
    assert.ok(
      published.length > 5 && published.length < PARTIES.length * TOPICS.length,
      'a mix of allowed and refused',
    );
    for (const [i, party] of PARTIES.entries()) {
      assert.deepEqual(
        [...received[i]!].sort(),
        [...expected[i]!].sort(),
        `deliveries to ${party.identity.username ?? 'anonymous'}`,
      );
    }
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true)));
  }
});
