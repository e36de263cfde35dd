// The first connection: how long connect() keeps trying, and which failures another attempt cannot
// cure. Devices often boot before their network or their broker is up, so by default connect()
// retries with the reconnect backoff; a refusal the same CONNECT would get again, or a certificate
// that does not verify, is a configuration error that waiting does not fix, and ends it at once.

import { MqttError } from '../protocol/errors.js';
import { ReasonCode, reasonName } from '../protocol/reason-codes.js';
import { type ReconnectOptions, type ResolvedReconnectOptions, resolveReconnectOptions } from './backoff.js';

export interface RetryInitialConnectOptions {
  /** Retries after the first attempt before connect() gives up (default: `reconnect.maxAttempts`, else never). */
  maxAttempts?: number;
  /** Milliseconds after the call of connect() at which it gives up (default: no limit). */
  timeout?: number;
}

export interface InitialConnectPolicy {
  backoff: ResolvedReconnectOptions;
  maxAttempts: number;
  timeout: number;
}

/**
 * On unless `retryInitialConnect` is false, or it is left out and `reconnect` is false: a client
 * that rides out a lost connection rides out a broker that is not up yet too. The backoff is the
 * reconnect policy's (its defaults when reconnecting is off).
 */
export function resolveInitialConnectPolicy(
  retry: boolean | RetryInitialConnectOptions | undefined,
  reconnect: ReconnectOptions | false | undefined,
): InitialConnectPolicy | undefined {
  if (retry === false || (retry === undefined && reconnect === false)) return undefined;
  const backoff = resolveReconnectOptions(reconnect === false ? undefined : reconnect);
  const own = typeof retry === 'object' ? retry : {};
  return {
    backoff,
    maxAttempts: Math.max(own.maxAttempts ?? backoff.maxAttempts, 0),
    timeout: own.timeout ?? Number.POSITIVE_INFINITY,
  };
}

/**
 * CONNACK reasons (MQTT 5 §3.2.2.2; the 3.1.1 return codes 1, 2, 4 and 5 map to 0x84..0x87) that
 * the same CONNECT would get again: the server does not speak our protocol version, does not
 * accept our client id, credentials, authentication method or will, finds the CONNECT malformed,
 * has banned us, or has moved for good. Unavailable (0x88), busy (0x89), quota (0x97), connection
 * rate (0x9F), use another server for now (0x9C), unspecified (0x80) and implementation specific
 * (0x83) may pass, and are retried.
 */
const permanentRefusals: ReadonlySet<number> = new Set([
  ReasonCode.MalformedPacket,
  ReasonCode.ProtocolError,
  ReasonCode.UnsupportedProtocolVersion,
  ReasonCode.ClientIdentifierNotValid,
  ReasonCode.BadUserNameOrPassword,
  ReasonCode.NotAuthorized,
  ReasonCode.Banned,
  ReasonCode.BadAuthenticationMethod,
  ReasonCode.TopicNameInvalid,
  ReasonCode.PacketTooLarge,
  ReasonCode.PayloadFormatInvalid,
  ReasonCode.RetainNotSupported,
  ReasonCode.QoSNotSupported,
  ReasonCode.ServerMoved,
]);

export function isPermanentRefusal(reasonCode: number): boolean {
  return permanentRefusals.has(reasonCode);
}

/**
 * OpenSSL's certificate verification failures as Node names them (error.code), and Node's own
 * host name check. CERT_NOT_YET_VALID and CRL_NOT_YET_VALID are left out on purpose: a device that
 * boots with its clock at 1970 sees them until NTP has set the time, and then connects.
 */
const certificateFailures: ReadonlySet<string> = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The server's TLS alerts that refuse our client certificate (mutual TLS), e.g. ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE. */
const certificateAlert =
  /^ERR_SSL_(SSLV3|TLSV1|TLSV13)_ALERT_(BAD_CERTIFICATE|UNSUPPORTED_CERTIFICATE|CERTIFICATE_REVOKED|CERTIFICATE_EXPIRED|CERTIFICATE_UNKNOWN|CERTIFICATE_REQUIRED|UNKNOWN_CA)$/;

/** True when `error`, or an error it was caused by, is a TLS certificate that does not verify, on either side. */
export function isCertificateFailure(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    const code = (current as Error & { code?: unknown }).code;
    if (typeof code === 'string' && (certificateFailures.has(code) || certificateAlert.test(code))) return true;
    current = current.cause;
  }
  return false;
}

/** An error's message without the reason name MqttError appends, for quoting it inside another. */
export function plainMessage(error: Error): string {
  if (error instanceof MqttError) {
    const suffix = ` (${reasonName(error.reasonCode)})`;
    if (error.message.endsWith(suffix)) return error.message.slice(0, -suffix.length);
  }
  return error.message;
}

export function attempts(count: number): string {
  return count === 1 ? '1 attempt' : `${count} attempts`;
}

/** The reason code an error stands for: its own when it is an MqttError, else Unspecified error. */
export function reasonCodeOf(error: Error | undefined): number {
  return error instanceof MqttError ? error.reasonCode : ReasonCode.UnspecifiedError;
}
