import type { Handler } from "./types";

export class HandlerRegistry {
  private readonly handlers = new Map<string, Handler<unknown>[]>();

  add(name: string, handler: Handler<unknown>): () => void {
    const list = this.handlers.get(name) ?? [];
    list.push(handler);
    this.handlers.set(name, list);
    let removed = false;
    return () => {
      if (!removed) {
        removed = true;
        this.remove(name, handler);
      }
    };
  }

  remove(name: string, handler: Handler<unknown>): boolean {
    const list = this.handlers.get(name);
    if (!list) return false;
    const index = list.indexOf(handler);
    if (index === -1) return false;
    list.splice(index, 1);
    return true;
  }

  list(name: string): Handler<unknown>[] {
    return [...(this.handlers.get(name) ?? [])];
  }

  count(name: string): number {
    return this.handlers.get(name)?.length ?? 0;
  }
}
