import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { createWebSocketStream, WebSocket } from 'ws';

/** How to reach a broker: mqtt://, mqtts://, ws:// or wss://. */
export interface LinkOptions {
  url: URL;
  /** TLS: skip certificate verification (self-signed test brokers). */
  insecure?: boolean;
  /** TLS: PEM file with the CA to trust. */
  caFile?: string;
  connectTimeoutMs?: number;
}

const DEFAULT_PORTS: Record<string, number> = { 'mqtt:': 1883, 'mqtts:': 8883, 'ws:': 80, 'wss:': 443 };

export function parseBrokerUrl(text: string): URL {
  const url = new URL(text);
  if (!(url.protocol in DEFAULT_PORTS)) {
    throw new Error(`unsupported URL scheme ${url.protocol} (use mqtt://, mqtts://, ws:// or wss://)`);
  }
  return url;
}

function portOf(url: URL): number {
  return url.port ? Number(url.port) : DEFAULT_PORTS[url.protocol]!;
}

/** The URL's hostname without the brackets of an IPv6 literal. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * Opens a byte stream to the broker and resolves once it is connected (TCP handshake, TLS handshake
 * or WebSocket upgrade done). Every transport ends up as a Duplex.
 */
export function openLink(options: LinkOptions): Promise<Duplex> {
  const { url } = options;
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  return new Promise<Duplex>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(
      () => fail(new Error(`connect to ${url.href} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    let stream: Duplex | undefined;
    let socket: WebSocket | undefined;
    function fail(err: Error) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream?.destroy();
      socket?.terminate();
      reject(err);
    }
    function done(s: Duplex) {
      if (settled) {
        s.destroy();
        return;
      }
      settled = true;
      clearTimeout(timer);
      s.removeListener('error', fail);
      resolve(s);
    }
    switch (url.protocol) {
      case 'mqtt:': {
        const s = net.connect({ host: hostOf(url), port: portOf(url), noDelay: true });
        stream = s;
        s.once('error', fail);
        s.once('connect', () => done(s));
        break;
      }
      case 'mqtts:': {
        const s = tls.connect({
          host: hostOf(url),
          port: portOf(url),
          servername: net.isIP(hostOf(url)) ? undefined : hostOf(url),
          rejectUnauthorized: !options.insecure,
          ca: options.caFile ? readFileSync(options.caFile) : undefined,
        });
        s.setNoDelay(true);
        stream = s;
        s.once('error', fail);
        s.once('secureConnect', () => done(s));
        break;
      }
      default: {
        const ws = new WebSocket(url, ['mqtt'], {
          rejectUnauthorized: !options.insecure,
          ca: options.caFile ? readFileSync(options.caFile) : undefined,
          perMessageDeflate: false,
        });
        socket = ws;
        ws.once('error', fail);
        ws.once('open', () => {
          ws.removeListener('error', fail);
          const s = createWebSocketStream(ws);
          // WebSocket frames carry MQTT bytes; the stream hides the framing.
          done(s);
        });
      }
    }
  });
}
