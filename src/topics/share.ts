import { MqttError } from '../protocol/errors.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import { clip, isValidTopicFilter } from './validate.js';

/** A shared subscription `$share/{group}/{filter}` taken apart (MQTT 5 section 4.8.2). */
export interface SharedFilter {
  group: string;
  filter: string;
}

const PREFIX = '$share/';

/**
 * Parses a `$share/{ShareName}/{filter}` topic filter. Returns undefined when the filter is not a shared
 * subscription (does not start with `$share/`). Throws MqttError 0x8F (Topic Filter invalid) when it is one but
 * malformed: [MQTT-4.8.2-1] the ShareName is at least one character; [MQTT-4.8.2-2] it contains no '/', '+'
 * or '#' and is followed by '/' and a valid topic filter.
 */
export function parseSharedFilter(filter: string): SharedFilter | undefined {
  if (!filter.startsWith(PREFIX)) return undefined;
  const slash = filter.indexOf('/', PREFIX.length);
  if (slash < 0) {
    throw invalid(filter, 'a shared subscription needs $share/{ShareName}/{filter} [MQTT-4.8.2-2]');
  }
  const group = filter.slice(PREFIX.length, slash);
  if (group.length === 0) {
    throw invalid(filter, 'the ShareName is empty [MQTT-4.8.2-1]');
  }
  if (group.includes('+') || group.includes('#') || group.includes('\u0000')) {
    throw invalid(filter, 'the ShareName contains a wildcard [MQTT-4.8.2-2]');
  }
  const topicFilter = filter.slice(slash + 1);
  if (!isValidTopicFilter(topicFilter)) {
    throw invalid(filter, 'the filter after the ShareName is not a valid topic filter [MQTT-4.8.2-2]');
  }
  return { group, filter: topicFilter };
}

/** True when the filter starts with `$share/` (valid or not). */
export function isSharedFilter(filter: string): boolean {
  return filter.startsWith(PREFIX);
}

function invalid(filter: string, why: string): MqttError {
  return new MqttError(ReasonCode.TopicFilterInvalid, `${why}: ${JSON.stringify(clip(filter))}`);
}
