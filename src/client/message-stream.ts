/**
 * A bounded queue read as an async iterator. When the reader falls behind by more than `capacity`
 * items the oldest are dropped and counted, so a slow `for await` loop never grows memory without
 * bound.
 */
export class MessageStream<T> implements AsyncIterableIterator<T> {
  readonly #capacity: number;
  readonly #onReturn: () => void;
  #items: T[] = [];
  #head = 0;
  #waiter: ((result: IteratorResult<T>) => void) | undefined;
  #done = false;
  /** Items dropped because the buffer was full. */
  dropped = 0;

  constructor(capacity: number, onReturn: () => void) {
    this.#capacity = Math.max(1, capacity);
    this.#onReturn = onReturn;
  }

  get buffered(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    if (this.#done) return;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter({ value: item, done: false });
      return;
    }
    if (this.buffered >= this.#capacity) {
      this.#head++;
      this.dropped++;
    }
    this.#items.push(item);
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Ends the iteration once the buffered items are read. */
  close(): void {
    this.#done = true;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#head < this.#items.length) {
      const value = this.#items[this.#head] as T;
      this.#items[this.#head++] = undefined as T;
      return Promise.resolve({ value, done: false });
    }
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.#items = [];
    this.#head = 0;
    this.close();
    this.#onReturn();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
