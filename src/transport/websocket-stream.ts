import { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';

/**
 * A WebSocket as a byte stream: each binary message is pushed as it arrives (MQTT packets may
 * span or share frames [MQTT-6.0.0-2]) and each batch of writes goes out as one binary frame.
 */
export class WebSocketStream extends Duplex {
  readonly #socket: WebSocket;

  constructor(socket: WebSocket) {
    super({ allowHalfOpen: false, decodeStrings: true });
    this.#socket = socket;
    socket.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) {
        // [MQTT-6.0.0-1] MQTT packets travel in binary frames; any other data frame closes the connection.
        this.destroy(new Error('WebSocket text frame received'));
        return;
      }
      const chunk = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      if (!this.push(chunk)) socket.pause();
    });
    // The end of the byte stream: what was already received is still read before 'end' (and then 'close').
    socket.on('close', () => this.push(null));
    socket.on('error', (err: Error) => this.destroy(err));
  }

  override _read(): void {
    if (this.#socket.isPaused) this.#socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#send(chunk, callback);
  }

  #send(chunk: Buffer, callback: (error?: Error | null) => void): void {
    if (this.#socket.readyState !== this.#socket.OPEN) {
      callback(new Error('WebSocket is not open'));
      return;
    }
    this.#socket.send(chunk, { binary: true }, callback);
  }

  override _writev(
    chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>,
    callback: (error?: Error | null) => void,
  ): void {
    if (chunks.length === 1) {
      this.#send(chunks[0]!.chunk, callback);
      return;
    }
    const buffers = new Array<Buffer>(chunks.length);
    for (let i = 0; i < chunks.length; i++) buffers[i] = chunks[i]!.chunk;
    this.#send(Buffer.concat(buffers), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.#socket.readyState === this.#socket.OPEN) this.#socket.close(1000);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const state = this.#socket.readyState;
    if (state === this.#socket.CONNECTING || state === this.#socket.OPEN) {
      if (error) this.#socket.terminate();
      else this.#socket.close(1000);
    }
    callback(error);
  }
}
