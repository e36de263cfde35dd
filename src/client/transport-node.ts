// Node transports: TCP (mqtt://), TLS (mqtts://) and the `ws` package (ws://, wss://).

import { isIP, type Socket, connect as tcpConnect } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { WebSocket } from 'ws';
import { MqttError } from '../protocol/errors.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import type { TlsOptions, Transport, TransportFactory, TransportHandlers, TransportTarget } from './transport.js';
import { webSocketUrl } from './transport-websocket.js';

/** TCP (mqtt://), TLS (mqtts://) and the `ws` package (ws://, wss://). */
export const nodeTransportFactory: TransportFactory = (target, handlers) => openNodeTransport(target, handlers);

export function openNodeTransport(target: TransportTarget, handlers: TransportHandlers): Promise<Transport> {
  return target.protocol === 'ws' || target.protocol === 'wss'
    ? openWs(target, handlers)
    : openSocket(target, handlers);
}

function toPem(value: string | Uint8Array): string | Buffer {
  return typeof value === 'string' ? value : Buffer.from(value);
}

function tlsSettings(target: TransportTarget, tls: TlsOptions | undefined): ConnectionOptions {
  const ca = tls?.ca === undefined ? undefined : Array.isArray(tls.ca) ? tls.ca.map(toPem) : toPem(tls.ca);
  const servername = tls?.servername ?? (isIP(target.host) === 0 ? target.host : undefined);
  const settings: ConnectionOptions = {
    ca,
    cert: tls?.cert === undefined ? undefined : toPem(tls.cert),
    key: tls?.key === undefined ? undefined : toPem(tls.key),
    rejectUnauthorized: tls?.rejectUnauthorized ?? true,
    servername,
  };
  if (tls?.verifyHostname === false) settings.checkServerIdentity = () => undefined;
  return settings;
}

function connectError(target: TransportTarget, cause: unknown): MqttError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new MqttError(
    ReasonCode.UnspecifiedError,
    `cannot connect to ${target.protocol}://${target.host}:${target.port}: ${reason}`,
    { cause },
  );
}

function openSocket(target: TransportTarget, handlers: TransportHandlers): Promise<Transport> {
  return new Promise((resolve, reject) => {
    let socket: Socket;
    if (target.protocol === 'mqtts') {
      socket = tlsConnect({ host: target.host, port: target.port, ...tlsSettings(target, target.tls) });
    } else {
      socket = tcpConnect({ host: target.host, port: target.port });
    }
    let open = false;
    let closed = false;
    let lastError: Error | undefined;
    const timer = setTimeout(() => {
      socket.destroy(new Error(`timed out after ${target.connectTimeout} ms`));
    }, target.connectTimeout);
    socket.setNoDelay(true);
    socket.on(target.protocol === 'mqtts' ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      open = true;
      resolve({
        write(chunks) {
          if (socket.destroyed || !socket.writable) return true;
          if (chunks.length === 1) return socket.write(chunks[0] as Buffer);
          // cork/uncork hands the batch to one writev.
          socket.cork();
          let room = true;
          for (const chunk of chunks) room = socket.write(chunk);
          socket.uncork();
          return room;
        },
        end() {
          socket.end();
        },
        destroy() {
          socket.destroy();
        },
      });
    });
    socket.on('data', (chunk: Buffer) => handlers.onData(chunk));
    socket.on('drain', () => handlers.onDrain?.());
    socket.on('error', (error) => {
      lastError = error;
      if (!open) {
        clearTimeout(timer);
        reject(connectError(target, error));
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (closed) return;
      closed = true;
      if (open) handlers.onClose(lastError);
      else reject(connectError(target, lastError ?? new Error('connection closed')));
    });
  });
}

function openWs(target: TransportTarget, handlers: TransportHandlers): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const url = webSocketUrl(target);
    const socket = new WebSocket(url, 'mqtt', {
      handshakeTimeout: target.connectTimeout,
      ...(target.protocol === 'wss' ? tlsSettings(target, target.tls) : {}),
    });
    let open = false;
    let closed = false;
    let lastError: Error | undefined;
    socket.on('open', () => {
      open = true;
      // Nagle's algorithm would hold back small packets such as PINGREQ.
      (socket as unknown as { _socket?: Socket })._socket?.setNoDelay(true);
      resolve({
        write(chunks) {
          if (socket.readyState !== WebSocket.OPEN) return true;
          socket.send(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
          return true;
        },
        end() {
          socket.close(1000);
        },
        destroy() {
          socket.terminate();
        },
      });
    });
    socket.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      if (Buffer.isBuffer(data)) handlers.onData(data);
      else if (Array.isArray(data)) handlers.onData(Buffer.concat(data));
      else handlers.onData(Buffer.from(data));
    });
    socket.on('error', (error) => {
      lastError = error;
      if (!open) reject(connectError(target, error));
    });
    socket.on('close', () => {
      if (closed) return;
      closed = true;
      if (open) handlers.onClose(lastError);
      else reject(connectError(target, lastError ?? new Error('connection closed')));
    });
  });
}
