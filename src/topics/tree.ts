/** One level of the subscription trie. Values stored here belong to the filter that ends at this node. */
class FilterNode<T> {
  readonly children = new Map<string, FilterNode<T>>();
  /** Children for the wildcard levels, kept apart so that matching never looks them up by string. */
  plus: FilterNode<T> | undefined = undefined;
  hash: FilterNode<T> | undefined = undefined;
  /** Values of the filter ending here, as parallel arrays so that matching copies them without iterators. */
  readonly keys: string[] = [];
  readonly values: T[] = [];
  /** key -> index into keys/values. */
  readonly index = new Map<string, number>();

  constructor(
    readonly parent: FilterNode<T> | undefined,
    readonly level: string,
  ) {}

  isEmpty(): boolean {
    return this.keys.length === 0 && this.children.size === 0 && this.plus === undefined && this.hash === undefined;
  }

  child(level: string): FilterNode<T> | undefined {
    if (level === '+') return this.plus;
    if (level === '#') return this.hash;
    return this.children.get(level);
  }
}

export interface TopicTreeOptions {
  /**
   * Distinct topics whose match results are kept per cache generation (default 10,000; at most twice as many are
   * held). 0 turns the cache off.
   */
  cacheSize?: number;
}

const EMPTY: readonly never[] = Object.freeze([]);

/**
 * The subscription trie: filters are stored level by level (Map children, wildcards apart), topics are matched.
 * Each filter holds values under keys (typically one per client), so one filter may serve many subscribers.
 *
 * `match(topic)` results are cached per topic from the topic's second match on, in a bounded two-generation map,
 * and the cache is dropped whenever a subscription is added, replaced or removed, so repeated topics cost one
 * map lookup.
 */
export class TopicTree<T> {
  readonly #root = new FilterNode<T>(undefined, '');
  // Two generations: new results go into #cache; when it is full it becomes #previous and a fresh map starts.
  // Bounded by twice the configured size, O(1) per operation, and it never deletes single entries (a Map used
  // as a FIFO slows down as deleted entries pile up at its head).
  #cache = new Map<string, readonly T[]>();
  #previous = new Map<string, readonly T[]>();
  /** Topics matched once and not cached yet. */
  #seen = new Set<string>();
  readonly #cacheSize: number;
  #size = 0;

  constructor(options: TopicTreeOptions = {}) {
    this.#cacheSize = options.cacheSize ?? 10_000;
  }

  /** Number of (filter, key) entries. */
  get size(): number {
    return this.#size;
  }

  /** Number of topics whose match result is cached (for metrics and tests). */
  get cachedTopics(): number {
    return this.#cache.size + this.#previous.size;
  }

  /**
   * Adds or replaces the value stored under (filter, key). Returns true when it was new. The filter must be valid
   * (see validateTopicFilter) and without a $share/{group}/ prefix; the tree does not check.
   */
  add(filter: string, key: string, value: T): boolean {
    let node = this.#root;
    let start = 0;
    for (;;) {
      const end = filter.indexOf('/', start);
      const level = end < 0 ? filter.slice(start) : filter.slice(start, end);
      let next = node.child(level);
      if (next === undefined) {
        next = new FilterNode<T>(node, level);
        if (level === '+') node.plus = next;
        else if (level === '#') node.hash = next;
        else node.children.set(level, next);
      }
      node = next;
      if (end < 0) break;
      start = end + 1;
    }
    this.clearCache();
    const at = node.index.get(key);
    if (at !== undefined) {
      node.values[at] = value;
      return false;
    }
    node.index.set(key, node.keys.length);
    node.keys.push(key);
    node.values.push(value);
    this.#size++;
    return true;
  }

  /** Removes the value stored under (filter, key). Returns true when there was one. */
  remove(filter: string, key: string): boolean {
    const node = this.#find(filter);
    if (node === undefined) return false;
    const at = node.index.get(key);
    if (at === undefined) return false;
    // Swap the last entry into the hole.
    const last = node.keys.length - 1;
    if (at !== last) {
      const lastKey = node.keys[last]!;
      node.keys[at] = lastKey;
      node.values[at] = node.values[last]!;
      node.index.set(lastKey, at);
    }
    node.keys.pop();
    node.values.pop();
    node.index.delete(key);
    this.#size--;
    this.clearCache();
    this.#prune(node);
    return true;
  }

  get(filter: string, key: string): T | undefined {
    const node = this.#find(filter);
    if (node === undefined) return undefined;
    const at = node.index.get(key);
    return at === undefined ? undefined : node.values[at];
  }

  /** True when at least one entry is stored under the filter. */
  hasFilter(filter: string): boolean {
    const node = this.#find(filter);
    return node !== undefined && node.keys.length > 0;
  }

  /**
   * Every value whose filter matches the topic. The array is cached per topic and shared between callers:
   * do not mutate it. [MQTT-4.7.2-1] filters starting with a wildcard do not match topics starting with '$'.
   */
  match(topic: string): readonly T[] {
    let result = this.#cache.get(topic);
    if (result !== undefined) return result;
    result = this.#previous.get(topic);
    if (result === undefined) {
      const out: T[] = [];
      this.#walk(this.#root, topic, 0, topic.charCodeAt(0) === 0x24, out);
      result = out.length === 0 ? EMPTY : out;
      if (this.#cacheSize === 0) return result;
      // A topic's result is kept from its second sighting on: one-off topics (a sequence number in the topic)
      // then cost a set entry instead of a retained array and a cache slot. The set of topics seen once holds
      // up to four times the cache size, then starts afresh.
      if (!this.#seen.has(topic)) {
        if (this.#seen.size >= 4 * this.#cacheSize) this.#seen = new Set();
        this.#seen.add(topic);
        return result;
      }
    }
    if (this.#cache.size >= this.#cacheSize) {
      this.#previous = this.#cache;
      this.#cache = new Map();
    }
    this.#cache.set(topic, result);
    return result;
  }

  /** Every (filter, key, value) stored, for persistence and the admin API. */
  *entries(): IterableIterator<[filter: string, key: string, value: T]> {
    const stack: [FilterNode<T>, string][] = [[this.#root, '']];
    while (stack.length > 0) {
      const [node, path] = stack.pop()!;
      for (let i = 0; i < node.keys.length; i++) yield [path, node.keys[i]!, node.values[i]!];
      const prefix = node === this.#root ? '' : `${path}/`;
      for (const child of node.children.values()) stack.push([child, prefix + child.level]);
      if (node.plus) stack.push([node.plus, `${prefix}+`]);
      if (node.hash) stack.push([node.hash, `${prefix}#`]);
    }
  }

  /** Drops every cached match result (the tree itself is unchanged). */
  clearCache(): void {
    this.#cache.clear();
    this.#previous.clear();
  }

  /**
   * Adds the values of every filter below `node` that matches the topic from offset `start` (the start of a
   * level). `start === topic.length + 1` means the topic has been consumed.
   */
  #walk(node: FilterNode<T>, topic: string, start: number, dollar: boolean, out: T[]): void {
    const n = topic.length;
    if (start > n) {
      push(node, out);
      // [MQTT-4.7.1-2] 'a/#' matches 'a'.
      if (node.hash !== undefined) push(node.hash, out);
      return;
    }
    // [MQTT-4.7.2-1] wildcards at the first level do not match '$' topics.
    const wild = !(dollar && start === 0);
    if (wild && node.hash !== undefined) push(node.hash, out);
    let end = topic.indexOf('/', start);
    if (end < 0) end = n;
    if (wild && node.plus !== undefined) this.#walk(node.plus, topic, end + 1, dollar, out);
    if (node.children.size > 0) {
      const child = node.children.get(start === 0 && end === n ? topic : topic.slice(start, end));
      if (child !== undefined) this.#walk(child, topic, end + 1, dollar, out);
    }
  }

  #find(filter: string): FilterNode<T> | undefined {
    let node: FilterNode<T> | undefined = this.#root;
    let start = 0;
    for (;;) {
      const end = filter.indexOf('/', start);
      node = node.child(end < 0 ? filter.slice(start) : filter.slice(start, end));
      if (node === undefined || end < 0) return node;
      start = end + 1;
    }
  }

  /** Unlinks empty nodes from the leaf upwards so that unsubscribed filters free their memory. */
  #prune(node: FilterNode<T>): void {
    let current: FilterNode<T> = node;
    while (current.parent !== undefined && current.isEmpty()) {
      const parent: FilterNode<T> = current.parent;
      if (current.level === '+') parent.plus = undefined;
      else if (current.level === '#') parent.hash = undefined;
      else parent.children.delete(current.level);
      current = parent;
    }
  }
}

function push<T>(node: FilterNode<T>, out: T[]): void {
  const values = node.values;
  for (let i = 0; i < values.length; i++) out.push(values[i]!);
}
