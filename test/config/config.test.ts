import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig, resolveConfig } from '../../src/config/load.js';

function errorsOf(result: ReturnType<typeof resolveConfig>): string[] {
  assert.equal(result.ok, false, 'expected the configuration to be refused');
  return result.ok ? [] : result.errors;
}

function configOf(result: ReturnType<typeof resolveConfig>) {
  if (!result.ok) assert.fail(`unexpected errors: ${result.errors.join('; ')}`);
  return result.config;
}

describe('defaults', () => {
  test('no configuration: one loopback mqtt listener on 1883, in memory, anonymous by the loopback rule', () => {
    const config = configOf(resolveConfig({}));
    assert.deepEqual(config.listeners, [{ name: 'default', host: '127.0.0.1', port: 1883, protocol: 'mqtt' }]);
    assert.deepEqual(config.persistence, { enabled: true, dataDir: './data' });
    assert.equal(config.auth.allowAnonymous, undefined);
    assert.equal(config.log.level, 'info');
    assert.equal(config.sys.intervalSeconds, 10);
    assert.equal(config.limits.connectTimeoutMs, 10_000);
    assert.equal(config.limits.maxQueuedMessages, 1000);
  });

  test('listeners get names: the first is default, others protocol-port', () => {
    const config = configOf(
      resolveConfig({ listeners: [{ port: 1883 }, { port: 9001, protocol: 'ws' }, { name: 'edge', port: 1884 }] }),
    );
    assert.deepEqual(
      config.listeners.map((l) => l.name),
      ['default', 'ws-9001', 'edge'],
    );
  });
});

describe('validation errors name the key, what is wrong and what was given', () => {
  test('a port that is not a number', () => {
    assert.deepEqual(errorsOf(resolveConfig({ listeners: [{ port: 1883 }, { port: 'abc' }] })), [
      "listeners[1].port: expected a number from 0 to 65535, got 'abc'",
    ]);
  });

  test('a port out of range, an unknown protocol, a missing port', () => {
    assert.deepEqual(
      errorsOf(resolveConfig({ listeners: [{ port: 70000 }, { port: 1, protocol: 'quic' }, { host: 'x' }] })),
      [
        'listeners[0].port: expected a number from 0 to 65535, got 70000',
        "listeners[1].protocol: expected one of mqtt, mqtts, ws, wss, got 'quic'",
        'listeners[2].port: required (expected a number from 0 to 65535)',
      ],
    );
  });

  test('unknown keys are reported, so a typo does not silently do nothing', () => {
    assert.deepEqual(errorsOf(resolveConfig({ limits: { maxPacketSise: 10 }, logging: {} })), [
      'limits.maxPacketSise: unknown key',
      'logging: unknown key',
    ]);
  });

  test('wrong types in sections', () => {
    assert.deepEqual(errorsOf(resolveConfig({ persistence: 'yes', log: { level: 'loud' } })), [
      "persistence: expected a mapping of settings, got 'yes'",
      "log.level: expected one of fatal, error, warn, info, debug, trace, silent, got 'loud'",
    ]);
    assert.deepEqual(errorsOf(resolveConfig({ auth: { allowAnonymous: 'sure' }, limits: { maximumQoS: 3 } })), [
      "auth.allowAnonymous: expected true or false, got 'sure'",
      'limits.maximumQoS: expected 0, 1 or 2, got 3',
    ]);
  });

  test('TLS listeners need certificates; TLS settings only on TLS listeners', () => {
    assert.deepEqual(errorsOf(resolveConfig({ listeners: [{ port: 8883, protocol: 'mqtts' }] })), [
      'listeners[0].tls: required for protocol mqtts',
    ]);
    assert.deepEqual(
      errorsOf(resolveConfig({ listeners: [{ port: 1883, tls: { cert: 'a', key: 'b' }, ws: { path: '/x' } }] })),
      ['listeners[0].tls: only for protocols mqtts and wss', 'listeners[0].ws: only for protocols ws and wss'],
    );
    assert.deepEqual(
      errorsOf(
        resolveConfig({
          listeners: [{ port: 8883, protocol: 'mqtts', tls: { cert: 'a', key: 'b', requireClientCert: true } }],
        }),
      ),
      ['listeners[0].tls.ca: required to verify client certificates'],
    );
  });

  test('two listeners on the same address, or with the same name', () => {
    assert.deepEqual(
      errorsOf(
        resolveConfig({ listeners: [{ port: 1883 }, { port: 1883 }, { name: 'a', port: 0 }, { name: 'a', port: 0 }] }),
      ),
      [
        'listeners[1].port: another listener already uses 127.0.0.1:1883',
        "listeners[3].name: duplicate listener name 'a'",
      ],
    );
  });

  test('an empty listener list', () => {
    assert.deepEqual(errorsOf(resolveConfig({ listeners: [] })), [
      'listeners: expected at least one listener, got an empty list',
    ]);
  });
});

describe('flags and environment', () => {
  test('flags override the file; the environment sits between them', () => {
    const file = { listeners: [{ host: '127.0.0.1', port: 1883 }], log: { level: 'warn' }, auth: { aclFile: 'a.acl' } };
    const config = configOf(
      resolveConfig(file, [
        { key: 'port', value: '2000', source: 'STARLING_PORT' },
        { key: 'logLevel', value: 'error', source: 'STARLING_LOG_LEVEL' },
        { key: 'port', value: 3000, source: '--port' },
      ]),
    );
    assert.equal(config.listeners[0]!.port, 3000);
    assert.equal(config.log.level, 'error');
    assert.equal(config.auth.aclFile, 'a.acl');
  });

  test('an invalid flag is reported under the key it sets, naming the flag', () => {
    assert.deepEqual(errorsOf(resolveConfig({}, [{ key: 'port', value: 'abc', source: '--port' }])), [
      "listeners[0].port (--port): expected a number from 0 to 65535, got 'abc'",
    ]);
    assert.deepEqual(
      errorsOf(resolveConfig({}, [{ key: 'allowAnonymous', value: 'maybe', source: 'STARLING_ALLOW_ANONYMOUS' }])),
      ["auth.allowAnonymous (STARLING_ALLOW_ANONYMOUS): expected true or false, got 'maybe'"],
    );
  });

  test('TLS flags make the default listener speak TLS; --ws-port adds a WebSocket listener on the same host', () => {
    const config = configOf(
      resolveConfig({}, [
        { key: 'host', value: '127.0.0.2', source: '--host' },
        { key: 'wsPort', value: '9001', source: '--ws-port' },
        { key: 'tlsCert', value: 's.crt', source: '--tls-cert' },
        { key: 'tlsKey', value: 's.key', source: '--tls-key' },
        { key: 'tlsCa', value: 'ca.crt', source: '--tls-ca' },
        { key: 'requireClientCert', value: true, source: '--require-client-cert' },
      ]),
    );
    assert.deepEqual(config.listeners, [
      {
        name: 'default',
        host: '127.0.0.2',
        port: 1883,
        protocol: 'mqtts',
        tls: { cert: 's.crt', key: 's.key', ca: 'ca.crt', requireClientCert: true, useCertificateCnAsUsername: false },
      },
      { name: 'ws', host: '127.0.0.2', port: 9001, protocol: 'ws' },
    ]);
  });

  test('--tls-cert without --tls-key names the missing flag', () => {
    assert.deepEqual(errorsOf(resolveConfig({}, [{ key: 'tlsCert', value: 's.crt', source: '--tls-cert' }])), [
      'listeners[0].tls.key (--tls-key): required (expected a key file path)',
    ]);
  });

  test('--no-persistence, --data-dir, --password-file, --allow-anonymous', () => {
    const config = configOf(
      resolveConfig({ persistence: { enabled: true } }, [
        { key: 'persistence', value: false, source: '--no-persistence' },
        { key: 'dataDir', value: '/var/lib/starling', source: '--data-dir' },
        { key: 'passwordFile', value: 'users.txt', source: '--password-file' },
        { key: 'allowAnonymous', value: false, source: '--no-allow-anonymous' },
      ]),
    );
    assert.deepEqual(config.persistence, { enabled: false, dataDir: '/var/lib/starling' });
    assert.equal(config.auth.passwordFile, 'users.txt');
    assert.equal(config.auth.allowAnonymous, false);
  });
});

describe('loadConfig from a YAML file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'starling-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('reads the file, then the STARLING_* environment, then the flags', async () => {
    const file = join(dir, 'starling.yaml');
    await writeFile(
      file,
      [
        'listeners:',
        '  - port: 1883',
        '  - port: 8080',
        '    protocol: ws',
        'log:',
        '  level: debug',
        'sys:',
        '  intervalSeconds: 0',
      ].join('\n'),
    );
    const result = await loadConfig({
      file,
      env: { STARLING_HOST: '127.0.0.3', STARLING_LOG_LEVEL: 'warn', HOME: '/root' },
      flags: { logLevel: 'error' },
    });
    const config = configOf(result);
    assert.equal(config.listeners[0]!.host, '127.0.0.3');
    assert.equal(config.listeners[1]!.port, 8080);
    assert.equal(config.log.level, 'error');
    assert.equal(config.sys.intervalSeconds, 0);
  });

  test('the example starling.yaml is valid', async () => {
    const result = await loadConfig({ file: new URL('../../../examples/starling.yaml', import.meta.url).pathname });
    configOf(result);
  });

  test('YAML syntax errors name the file and line; a missing file names --config', async () => {
    const file = join(dir, 'broken.yaml');
    await writeFile(file, 'listeners:\n  - port: 1883\n   host: x\n');
    const errors = errorsOf(await loadConfig({ file }));
    assert.equal(errors.length >= 1, true);
    assert.match(errors[0]!, /broken\.yaml \(line 3, column \d+\): /);
    assert.deepEqual(errorsOf(await loadConfig({ file: join(dir, 'missing.yaml') })), [
      `--config: cannot read '${join(dir, 'missing.yaml')}' (ENOENT)`,
    ]);
  });

  test('a file that is not a mapping, and an empty file', async () => {
    const list = join(dir, 'list.yaml');
    await writeFile(list, '- a\n- b\n');
    assert.deepEqual(errorsOf(await loadConfig({ file: list })), [
      `${list}: expected a mapping of settings at the top level`,
    ]);
    const empty = join(dir, 'empty.yaml');
    await writeFile(empty, '# nothing yet\n');
    assert.equal(configOf(await loadConfig({ file: empty })).listeners[0]!.port, 1883);
  });
});
