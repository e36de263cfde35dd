import { EventEmitter } from 'node:events';

/** Event name -> listener argument tuple. */
export type EventMap = { [event: string]: unknown[] };

/** An EventEmitter whose event names and listener arguments are checked by the compiler (STYLE.md 12). */
export class TypedEmitter<Events extends EventMap> {
  readonly #emitter = new EventEmitter();

  on<E extends keyof Events & string>(event: E, listener: (...args: Events[E]) => void): this {
    this.#emitter.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  once<E extends keyof Events & string>(event: E, listener: (...args: Events[E]) => void): this {
    this.#emitter.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<E extends keyof Events & string>(event: E, listener: (...args: Events[E]) => void): this {
    this.#emitter.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** True when someone listens: lets hot paths skip building event objects nobody reads. */
  hasListeners<E extends keyof Events & string>(event: E): boolean {
    return this.#emitter.listenerCount(event) > 0;
  }

  protected emit<E extends keyof Events & string>(event: E, ...args: Events[E]): boolean {
    return this.#emitter.emit(event, ...args);
  }
}
