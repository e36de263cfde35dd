import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashPassword, parsePasswordHash, verifyPassword } from '../../src/auth/password-hash.js';

// Cheap parameters keep the tests fast; the format records them, so verification uses the same ones.
const fast = { N: 1024, r: 8, p: 1 };

test('hashPassword makes a salted, self-describing scrypt hash that verifies only its password', async () => {
  const text = await hashPassword('s3cret', fast);
  assert.match(text, /^\$scrypt\$N=1024,r=8,p=1\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/);
  const hash = parsePasswordHash(text);
  assert.ok(hash);
  assert.equal(await verifyPassword('s3cret', hash), true);
  assert.equal(await verifyPassword('s3cret ', hash), false);
  assert.equal(await verifyPassword('', hash), false);
  assert.equal(await verifyPassword(Buffer.from('s3cret'), hash), true);
  // Two hashes of the same password differ by their salt.
  assert.notEqual(await hashPassword('s3cret', fast), text);
});

test('the default parameters are scrypt N=16384, r=8, p=1', async () => {
  assert.match(await hashPassword('x'), /^\$scrypt\$N=16384,r=8,p=1\$/);
});

test('passwords from mosquitto_passwd verify: $7$ (PBKDF2-SHA512) and $6$ (SHA-512)', async () => {
  // Made with mosquitto_passwd 2.0.11: `-b f alice secret` and `-H sha512 -b f bob pw2`.
  const pbkdf2 = parsePasswordHash(
    '$7$101$+N8k7cuLW+KJPxWm$HtxLPImZgeuCc+/YDKTQMqSOZDnZv1iBfxBnQP7XUZnbA1Fpa6JUdL5pKHtfXMhlIdLOGkGq9hiqC8s0QlQc8A==',
  );
  assert.equal(pbkdf2?.kind, 'pbkdf2-sha512');
  assert.equal(await verifyPassword('secret', pbkdf2!), true);
  assert.equal(await verifyPassword('Secret', pbkdf2!), false);
  const sha512 = parsePasswordHash(
    '$6$PZjlQxBD/CK24/I8$SR0tmHTMXXdQ/ku9XKQNNBqQ4CfuLHeSL9hmc8GNOpY6kKfQosSuw7YYoQeW2icM05TBAyuC0/J8O3ct2GPJCQ==',
  );
  assert.equal(sha512?.kind, 'sha512');
  assert.equal(await verifyPassword('pw2', sha512!), true);
  assert.equal(await verifyPassword('pw1', sha512!), false);
});

test('malformed hashes and out-of-range parameters are refused', () => {
  const salt = Buffer.alloc(16, 1).toString('base64');
  const hash = Buffer.alloc(32, 2).toString('base64');
  assert.ok(parsePasswordHash(`$scrypt$N=1024,r=8,p=1$${salt}$${hash}`));
  for (const bad of [
    'plaintext',
    '',
    `$scrypt$N=1000,r=8,p=1$${salt}$${hash}`, // N not a power of two
    `$scrypt$N=4194304,r=8,p=1$${salt}$${hash}`, // N too large: a tampered file must not exhaust memory
    `$scrypt$N=1024,r=0,p=1$${salt}$${hash}`,
    `$scrypt$N=1024,r=8,p=99$${salt}$${hash}`,
    `$scrypt$N=1024,r=8$${salt}$${hash}`,
    `$scrypt$N=1024,r=8,p=1$${salt}$`,
    `$scrypt$N=1024,r=8,p=1$not base64!$${hash}`,
    `$scrypt$N=1024,r=8,p=1$${salt}$${hash}$extra`,
    `$7$0$${salt}$${Buffer.alloc(64).toString('base64')}`,
    `$7$101$${salt}$${hash}`, // PBKDF2-SHA512 hashes are 64 bytes
    `$6$${salt}$${hash}`,
    `$5$${salt}$${hash}`,
  ]) {
    assert.equal(parsePasswordHash(bad), undefined, bad);
  }
});

test('hashPassword refuses parameters it would not accept back', async () => {
  await assert.rejects(hashPassword('x', { N: 1000, r: 8, p: 1 }), RangeError);
});
