const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;
const DOLLAR = 0x24;

/**
 * True when `topic` matches `filter` (both assumed valid). Walks both strings once without allocating.
 * [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic starting with '$'.
 * [MQTT-4.7.1-2] 'a/#' also matches 'a', the parent level.
 */
export function topicMatches(filter: string, topic: string): boolean {
  const fn = filter.length;
  const tn = topic.length;
  if (tn > 0 && topic.charCodeAt(0) === DOLLAR) {
    const f0 = filter.charCodeAt(0);
    if (f0 === PLUS || f0 === HASH) return false;
  }
  let f = 0;
  let t = 0;
  // Invariant: f and t are at the start of a level.
  for (;;) {
    const fc = filter.charCodeAt(f);
    if (fc === HASH) return true; // '#' matches the rest, including nothing after a parent 'a/'.
    if (fc === PLUS) {
      f++;
      while (t < tn && topic.charCodeAt(t) !== SLASH) t++;
    } else {
      while (f < fn && t < tn) {
        const c = filter.charCodeAt(f);
        if (c === SLASH || c !== topic.charCodeAt(t)) break;
        f++;
        t++;
      }
      if ((f < fn && filter.charCodeAt(f) !== SLASH) || (t < tn && topic.charCodeAt(t) !== SLASH)) return false;
    }
    // Both at the end of a level.
    if (f === fn) return t === tn;
    if (t === tn) {
      // Topic ended; the filter may still match through a final '/#' ('a/#' matches 'a').
      return f + 2 === fn && filter.charCodeAt(f + 1) === HASH;
    }
    f++;
    t++;
  }
}
