// Authenticating clients against your own HTTP service: an Authenticator that POSTs the credentials to a URL
// and lets the answer decide. Any Authenticator plugs into the broker the same way (a JWT check, LDAP, ...).
//
//   node dist/examples/auth-hook.js      (starts a demo auth service and a broker on 127.0.0.1, connects, exits)
//
// The auth service receives {"clientId", "username", "password", "remoteAddress", "listener"} and answers
// 200 {"allow": true} to accept (optionally {"username": "..."} to rename the client), anything else to refuse.

import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import mqtt from 'mqtt';
import type { AuthenticateRequest, AuthenticateResult, Authenticator } from '../src/auth/types.js';
import { Broker, createLogger, ReasonCode } from '../src/index.js';
import { createListener } from '../src/transport/index.js';

export interface HttpAuthenticatorOptions {
  /** The service must answer within this time, or the client is refused with 0x88 Server unavailable. */
  timeoutMs?: number;
}

/** Asks an HTTP service whether a client may connect. */
export function httpAuthenticator(url: string, options: HttpAuthenticatorOptions = {}): Authenticator {
  const timeoutMs = options.timeoutMs ?? 2000;
  return {
    async authenticate(request: AuthenticateRequest): Promise<AuthenticateResult> {
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            clientId: request.clientId,
            username: request.username,
            // Passwords are bytes in MQTT; most services expect text.
            password: request.password?.toString('utf8'),
            remoteAddress: request.remoteAddress,
            listener: request.listener,
          }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch {
        return { ok: false, reasonCode: ReasonCode.ServerUnavailable };
      }
      if (response.status !== 200) {
        await response.body?.cancel();
        return { ok: false, reasonCode: ReasonCode.BadUserNameOrPassword };
      }
      const answer = (await response.json().catch(() => ({}))) as { allow?: unknown; username?: unknown };
      if (answer.allow !== true) return { ok: false, reasonCode: ReasonCode.NotAuthorized };
      return typeof answer.username === 'string' ? { ok: true, username: answer.username } : { ok: true };
    },
  };
}

/** A stand-in for your auth service: alice/wonderland is allowed, everyone else is not. */
export async function startDemoAuthService(): Promise<{ server: Server; url: string }> {
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const { username, password } = JSON.parse(body) as { username?: string; password?: string };
    const allowed = username === 'alice' && password === 'wonderland';
    res.writeHead(allowed ? 200 : 403, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ allow: allowed }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${address.port}/mqtt-auth` };
}

export async function runAuthHookExample(log: (line: string) => void = console.log): Promise<void> {
  const auth = await startDemoAuthService();
  const logger = createLogger('warn');
  // allowAnonymous: every client, with or without a username, is decided by the authenticator.
  const broker = new Broker({ logger, authenticator: httpAuthenticator(auth.url), allowAnonymous: true });
  await broker.start();
  const listener = await createListener(
    { name: 'default', host: '127.0.0.1', port: 0, protocol: 'mqtt' },
    (stream, meta) => broker.handle(stream, meta),
    logger,
  );
  const url = listener.url();
  try {
    const alice = await mqtt.connectAsync(url, { username: 'alice', password: 'wonderland', reconnectPeriod: 0 });
    log('alice: connected');
    await alice.endAsync();
    try {
      await mqtt.connectAsync(url, { username: 'mallory', password: 'guess', reconnectPeriod: 0 });
      log('mallory: connected (unexpected)');
    } catch (error) {
      log(`mallory: refused (${(error as Error).message})`);
    }
  } finally {
    await broker.close();
    await listener.close();
    auth.server.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runAuthHookExample();
}
