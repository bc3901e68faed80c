// R2: `bus.emit(name, payload)` MUST call the handlers of that event in the order they
// subscribed, each once.
import { describe, expect, it } from "vitest";
import { EventBus } from "../../src/bus";

type Events = { saved: { id: number }; deleted: { id: number } };

describe("R2: emit() calls the event's handlers in subscription order, each once", () => {
  it("calls every handler once, in the order they subscribed", () => {
    const bus = new EventBus<Events>();
    const order: number[] = [];
    for (let i = 0; i < 10; i += 1) bus.on("saved", () => order.push(i));
    bus.emit("saved", { id: 1 });
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("passes the payload to each handler", () => {
    const bus = new EventBus<Events>();
    const payload = { id: 42 };
    const received: unknown[] = [];
    bus.on("saved", (p) => received.push(p));
    bus.on("saved", (p) => received.push(p));
    bus.emit("saved", payload);
    expect(received).toEqual([payload, payload]);
  });

  it("calls only the handlers of the emitted event", () => {
    const bus = new EventBus<Events>();
    const seen: string[] = [];
    bus.on("saved", () => seen.push("saved"));
    bus.on("deleted", () => seen.push("deleted"));
    bus.emit("deleted", { id: 1 });
    expect(seen).toEqual(["deleted"]);
  });

  it("calls each handler once per emit, not more", () => {
    const bus = new EventBus<Events>();
    const counts = [0, 0, 0];
    counts.forEach((_, i) => bus.on("saved", () => (counts[i] += 1)));
    bus.emit("saved", { id: 1 });
    expect(counts).toEqual([1, 1, 1]);
    bus.emit("saved", { id: 2 });
    bus.emit("saved", { id: 3 });
    expect(counts).toEqual([3, 3, 3]);
  });

  it("puts a handler that subscribes again after removal at the end", () => {
    const bus = new EventBus<Events>();
    const order: string[] = [];
    const a = () => order.push("a");
    const b = () => order.push("b");
    const c = () => order.push("c");
    bus.on("saved", a);
    const removeB = bus.on("saved", b);
    bus.on("saved", c);
    removeB();
    bus.on("saved", b);
    bus.emit("saved", { id: 1 });
    expect(order).toEqual(["a", "c", "b"]);
  });

  it("calls a handler subscribed twice twice, in both places", () => {
    const bus = new EventBus<Events>();
    const order: string[] = [];
    const a = () => order.push("a");
    bus.on("saved", a);
    bus.on("saved", () => order.push("b"));
    bus.on("saved", a);
    bus.emit("saved", { id: 1 });
    expect(order).toEqual(["a", "b", "a"]);
  });

  it("emitting an event without handlers calls nothing and returns no errors", () => {
    const bus = new EventBus<Events>();
    expect(bus.emit("saved", { id: 1 })).toEqual([]);
  });
});
