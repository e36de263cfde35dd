import { reasonName } from './reason-codes.js';

/**
 * The one error type of Starling's protocol layer: an MQTT reason code (section 2.4) with a message
 * and an optional cause. Code that handles errors switches on `reasonCode`, never on the message.
 */
export class MqttError extends Error {
  override readonly name = 'MqttError';
  readonly reasonCode: number;

  constructor(reasonCode: number, message: string, options?: { cause?: unknown }) {
    super(`${message} (${reasonName(reasonCode)})`, options);
    this.reasonCode = reasonCode;
  }
}
