import { applyMiddleware } from "./middleware";
import { HandlerRegistry } from "./registry";
import type { EventMap, Handler, Middleware } from "./types";

export class EventBus<E extends EventMap> {
  private readonly registry = new HandlerRegistry();
  private readonly middleware: Middleware[] = [];

  on<K extends keyof E & string>(name: K, handler: Handler<E[K]>): () => void {
    return this.registry.add(name, handler as Handler<unknown>);
  }

  once<K extends keyof E & string>(name: K, handler: Handler<E[K]>): () => void {
    const remove = this.on(name, (payload) => {
      remove();
      handler(payload);
    });
    return remove;
  }

  off<K extends keyof E & string>(name: K, handler: Handler<E[K]>): boolean {
    return this.registry.remove(name, handler as Handler<unknown>);
  }

  use(middleware: Middleware): void {
    this.middleware.push(middleware);
  }

  listenerCount<K extends keyof E & string>(name: K): number {
    return this.registry.count(name);
  }

  emit<K extends keyof E & string>(name: K, payload: E[K]): Error[] {
    const passed = applyMiddleware(this.middleware, name, payload);
    if (passed === null) return [];
    const errors: Error[] = [];
    for (const handler of this.registry.list(name)) {
      try {
        handler(passed);
      } catch (error) {
        errors.push(error instanceof Error ? error : new Error(String(error)));
      }
    }
    return errors;
  }
}
