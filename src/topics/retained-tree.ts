/** One level of the retained-message trie. */
class TopicNode<T> {
  readonly children = new Map<string, TopicNode<T>>();
  /** The full topic of the message stored here, or undefined when no message ends at this level. */
  topic: string | undefined = undefined;
  value: T | undefined = undefined;

  constructor(
    readonly parent: TopicNode<T> | undefined,
    readonly level: string,
  ) {}
}

const DOLLAR = 0x24;

/**
 * Retained messages: topic names are stored level by level, and a subscription's filter is matched by walking
 * only the branches it can reach ('+' visits the children of one level, '#' a whole subtree).
 */
export class RetainedTree<T> {
  readonly #root = new TopicNode<T>(undefined, '');
  #size = 0;

  get size(): number {
    return this.#size;
  }

  set(topic: string, value: T): void {
    let node = this.#root;
    let start = 0;
    for (;;) {
      const end = topic.indexOf('/', start);
      const level = end < 0 ? topic.slice(start) : topic.slice(start, end);
      let next = node.children.get(level);
      if (next === undefined) {
        next = new TopicNode<T>(node, level);
        node.children.set(level, next);
      }
      node = next;
      if (end < 0) break;
      start = end + 1;
    }
    if (node.topic === undefined) {
      node.topic = topic;
      this.#size++;
    }
    node.value = value;
  }

  get(topic: string): T | undefined {
    return this.#find(topic)?.value;
  }

  delete(topic: string): boolean {
    const node = this.#find(topic);
    if (node === undefined || node.topic === undefined) return false;
    node.topic = undefined;
    node.value = undefined;
    this.#size--;
    let current = node;
    while (current.parent !== undefined && current.topic === undefined && current.children.size === 0) {
      current.parent.children.delete(current.level);
      current = current.parent;
    }
    return true;
  }

  /**
   * Every [topic, value] whose topic matches the filter (assumed valid). Lazy: a '#' over a million messages
   * does not build a million-entry array. [MQTT-4.7.2-1] a filter starting with '+' or '#' does not match
   * topics starting with '$'. Do not modify the tree while iterating.
   */
  *match(filter: string): IterableIterator<[string, T]> {
    // A stack of (node, offset of the next filter level in `filter`); the offset is filter.length + 1 once
    // the filter is consumed, and -1 marks a node whose whole subtree matches (below a '#').
    const nodes: TopicNode<T>[] = [this.#root];
    const offsets: number[] = [0];
    const n = filter.length;
    while (nodes.length > 0) {
      const node = nodes.pop()!;
      const start = offsets.pop()!;
      if (start < 0) {
        if (node.topic !== undefined) yield [node.topic, node.value as T];
        for (const child of node.children.values()) {
          nodes.push(child);
          offsets.push(-1);
        }
        continue;
      }
      if (start > n) {
        if (node.topic !== undefined) yield [node.topic, node.value as T];
        continue;
      }
      let end = filter.indexOf('/', start);
      if (end < 0) end = n;
      const first = filter.charCodeAt(start);
      const wholeLevel = end === start + 1;
      if (wholeLevel && first === 0x23) {
        // '#': this level's own message ('a/#' matches 'a') and everything below.
        if (node !== this.#root && node.topic !== undefined) yield [node.topic, node.value as T];
        for (const [level, child] of node.children) {
          if (start === 0 && level.charCodeAt(0) === DOLLAR) continue;
          nodes.push(child);
          offsets.push(-1);
        }
      } else if (wholeLevel && first === 0x2b) {
        for (const [level, child] of node.children) {
          if (start === 0 && level.charCodeAt(0) === DOLLAR) continue;
          nodes.push(child);
          offsets.push(end + 1);
        }
      } else {
        const child = node.children.get(filter.slice(start, end));
        if (child !== undefined) {
          nodes.push(child);
          offsets.push(end + 1);
        }
      }
    }
  }

  /** Every retained [topic, value]. */
  *entries(): IterableIterator<[string, T]> {
    const stack: TopicNode<T>[] = [this.#root];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (node.topic !== undefined) yield [node.topic, node.value as T];
      for (const child of node.children.values()) stack.push(child);
    }
  }

  clear(): void {
    this.#root.children.clear();
    this.#size = 0;
  }

  #find(topic: string): TopicNode<T> | undefined {
    let node: TopicNode<T> | undefined = this.#root;
    let start = 0;
    for (;;) {
      const end = topic.indexOf('/', start);
      node = node.children.get(end < 0 ? topic.slice(start) : topic.slice(start, end));
      if (node === undefined || end < 0) return node;
      start = end + 1;
    }
  }
}
