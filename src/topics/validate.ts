import { MqttError } from '../protocol/errors.js';
import { ReasonCode } from '../protocol/reason-codes.js';

const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;
const NUL = 0x00;
/** [MQTT-4.7.3-3] topic names and filters are at most 65,535 bytes of UTF-8. */
const MAX_BYTES = 65535;

/** True when the string's UTF-8 encoding fits a two-byte length prefix; only counts bytes for long strings. */
function fitsUtf8Length(s: string): boolean {
  // A UTF-16 code unit encodes to at most 3 UTF-8 bytes.
  return s.length * 3 <= MAX_BYTES || Buffer.byteLength(s, 'utf8') <= MAX_BYTES;
}

/**
 * A topic name a PUBLISH may carry: at least one character [MQTT-4.7.3-1], no wildcards [MQTT-4.7.1-1],
 * no U+0000 [MQTT-4.7.3-2], at most 65,535 UTF-8 bytes [MQTT-4.7.3-3].
 */
export function isValidTopicName(topic: string): boolean {
  const n = topic.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = topic.charCodeAt(i);
    if (c === PLUS || c === HASH || c === NUL) return false;
  }
  return fitsUtf8Length(topic);
}

/**
 * A topic filter a SUBSCRIBE or UNSUBSCRIBE may carry: at least one character [MQTT-4.7.3-1]; '#' only as the
 * whole last level [MQTT-4.7.1-2]; '+' only as a whole level [MQTT-4.7.1-3]; no U+0000 [MQTT-4.7.3-2];
 * at most 65,535 UTF-8 bytes [MQTT-4.7.3-3].
 */
export function isValidTopicFilter(filter: string): boolean {
  const n = filter.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = filter.charCodeAt(i);
    if (c === NUL) return false;
    if (c === PLUS || c === HASH) {
      // The wildcard must fill its level: preceded by '/' or the start, followed by '/' or the end.
      if (i > 0 && filter.charCodeAt(i - 1) !== SLASH) return false;
      if (i + 1 < n && filter.charCodeAt(i + 1) !== SLASH) return false;
      // '#' must also be the last level.
      if (c === HASH && i + 1 !== n) return false;
    }
  }
  return fitsUtf8Length(filter);
}

/** Throws MqttError 0x90 (Topic Name invalid) unless `isValidTopicName(topic)`. */
export function validateTopicName(topic: string): void {
  if (!isValidTopicName(topic)) {
    throw new MqttError(ReasonCode.TopicNameInvalid, `invalid topic name ${JSON.stringify(clip(topic))}`);
  }
}

/** Throws MqttError 0x8F (Topic Filter invalid) unless `isValidTopicFilter(filter)`. */
export function validateTopicFilter(filter: string): void {
  if (!isValidTopicFilter(filter)) {
    throw new MqttError(ReasonCode.TopicFilterInvalid, `invalid topic filter ${JSON.stringify(clip(filter))}`);
  }
}

/** True when the filter contains a wildcard level ('+' or '#'); the filter is assumed valid. */
export function hasWildcard(filter: string): boolean {
  return filter.includes('+') || filter.includes('#');
}

/** Keeps error messages short when a client sends a 64 KB topic. */
export function clip(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}...` : s;
}
