/**
 * The shape of src/util/typed-emitter.ts without node:events, so that the client also runs in a
 * browser bundle. Emitting an event nobody listens to, 'error' included, does nothing: the client
 * reports failures through rejected promises first and events second.
 */
export type EventMap = { [event: string]: unknown[] };

type Listener = (...args: unknown[]) => void;

export class TypedEmitter<Events extends EventMap> {
  readonly #listeners = new Map<string, Listener[]>();

  on<E extends keyof Events & string>(event: E, listener: (...args: Events[E]) => void): this {
    const list = this.#listeners.get(event);
    if (list) list.push(listener as Listener);
    else this.#listeners.set(event, [listener as Listener]);
    return this;
  }

  once<E extends keyof Events & string>(event: E, listener: (...args: Events[E]) => void): this {
    const wrapper = (...args: Events[E]): void => {
      this.off(event, wrapper);
      listener(...args);
    };
    return this.on(event, wrapper);
  }

  off<E extends keyof Events & string>(event: E, listener: (...args: Events[E]) => void): this {
    const list = this.#listeners.get(event);
    if (!list) return this;
    const index = list.indexOf(listener as Listener);
    if (index >= 0) list.splice(index, 1);
    if (list.length === 0) this.#listeners.delete(event);
    return this;
  }

  hasListeners<E extends keyof Events & string>(event: E): boolean {
    return this.#listeners.has(event);
  }

  protected emit<E extends keyof Events & string>(event: E, ...args: Events[E]): boolean {
    const list = this.#listeners.get(event);
    if (!list) return false;
    // A copy, so that listeners may remove themselves while being called.
    for (const listener of list.slice()) listener(...args);
    return true;
  }
}
