// R6: `bus.listenerCount(name)` SHOULD report the number of handlers of an event.
import { describe, expect, it } from "vitest";
import { EventBus } from "../../src/bus";

type Events = { a: number; b: number };

describe("R6: listenerCount() reports the number of handlers of an event", () => {
  it("is 0 for an event nobody subscribed to", () => {
    const bus = new EventBus<Events>();
    expect(bus.listenerCount("a")).toBe(0);
  });

  it("counts each subscription, per event", () => {
    const bus = new EventBus<Events>();
    bus.on("a", () => {});
    bus.on("a", () => {});
    bus.on("a", () => {});
    bus.on("b", () => {});
    expect(bus.listenerCount("a")).toBe(3);
    expect(bus.listenerCount("b")).toBe(1);
  });

  it("counts the same function subscribed twice as two handlers", () => {
    const bus = new EventBus<Events>();
    const handler = () => {};
    bus.on("a", handler);
    bus.on("a", handler);
    expect(bus.listenerCount("a")).toBe(2);
  });

  it("goes down when a handler is removed, by its remover or by off()", () => {
    const bus = new EventBus<Events>();
    const kept = () => {};
    const removeFirst = bus.on("a", () => {});
    bus.on("a", kept);
    bus.on("a", () => {});
    removeFirst();
    expect(bus.listenerCount("a")).toBe(2);
    bus.off("a", kept);
    expect(bus.listenerCount("a")).toBe(1);
  });

  it("counts a once handler until it has run", () => {
    const bus = new EventBus<Events>();
    bus.on("a", () => {});
    bus.once("a", () => {});
    expect(bus.listenerCount("a")).toBe(2);
    bus.emit("a", 1);
    expect(bus.listenerCount("a")).toBe(1);
  });

  it("is not changed by emitting", () => {
    const bus = new EventBus<Events>();
    bus.on("a", () => {});
    bus.emit("a", 1);
    bus.emit("b", 2);
    expect(bus.listenerCount("a")).toBe(1);
    expect(bus.listenerCount("b")).toBe(0);
  });
});
