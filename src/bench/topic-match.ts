/**
 * Whether a topic filter matches a topic name (MQTT wildcards `+` and `#`). The load generator uses
 * it only to know which subscriber should receive which publisher's messages when it counts losses.
 */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  // [MQTT-4.7.2-1] filters starting with a wildcard do not match topics starting with '$'.
  if (topic.startsWith('$') && (f[0] === '#' || f[0] === '+')) return false;
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Replaces `%i` in a topic or filter template with a client number. */
export function expandTemplate(template: string, index: number): string {
  return template.replaceAll('%i', String(index));
}
