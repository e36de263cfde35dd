// MQTT over a standard (WHATWG) WebSocket, for browsers: binary frames, subprotocol 'mqtt'
// ([MQTT-6.0.0-3]). Needs a global Buffer (the `buffer` package in a browser bundle), as the
// protocol layer does.

import { MqttError } from '../protocol/errors.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import type { Transport, TransportFactory, TransportHandlers, TransportTarget } from './transport.js';

/** ws:// and wss:// over the given WebSocket class (the global one by default). */
export function webSocketTransportFactory(WebSocketClass?: typeof WebSocket): TransportFactory {
  return (target, handlers) => {
    if (target.protocol === 'mqtt' || target.protocol === 'mqtts') {
      return Promise.reject(
        new MqttError(
          ReasonCode.ImplementationSpecificError,
          `${target.protocol}:// needs a TCP socket; in a browser use ws:// or wss://`,
        ),
      );
    }
    const Class = WebSocketClass ?? (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
    if (!Class) {
      return Promise.reject(
        new MqttError(ReasonCode.ImplementationSpecificError, 'no WebSocket implementation in this environment'),
      );
    }
    return openWebSocketTransport(target, handlers, Class);
  };
}

export function webSocketUrl(target: TransportTarget): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return `${target.protocol}://${host}:${target.port}${target.path}`;
}

export function openWebSocketTransport(
  target: TransportTarget,
  handlers: TransportHandlers,
  WebSocketClass: typeof WebSocket,
): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocketClass(webSocketUrl(target), 'mqtt');
    socket.binaryType = 'arraybuffer';
    let open = false;
    let closed = false;
    const timer = setTimeout(() => {
      socket.close();
      reject(
        new MqttError(ReasonCode.UnspecifiedError, `WebSocket connection timed out after ${target.connectTimeout} ms`),
      );
    }, target.connectTimeout);
    socket.onopen = () => {
      clearTimeout(timer);
      open = true;
      resolve({
        write(chunks) {
          if (socket.readyState !== 1) return true;
          socket.send(chunks.length === 1 ? (chunks[0] as Uint8Array<ArrayBuffer>) : Buffer.concat(chunks));
          // The browser's WebSocket has no drain event; it buffers.
          return true;
        },
        end() {
          socket.close(1000);
        },
        destroy() {
          socket.close();
        },
      });
    };
    socket.onmessage = (event) => {
      const data = event.data;
      if (data instanceof ArrayBuffer) handlers.onData(Buffer.from(data));
    };
    socket.onerror = () => {
      if (!open) {
        clearTimeout(timer);
        reject(new MqttError(ReasonCode.UnspecifiedError, `WebSocket connection to ${webSocketUrl(target)} failed`));
      }
    };
    socket.onclose = (event) => {
      if (closed) return;
      closed = true;
      if (open) handlers.onClose(event.wasClean ? undefined : new Error(`WebSocket closed (${event.code})`));
    };
  });
}
