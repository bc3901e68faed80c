// R1: `bus.on(name, handler)` MUST return a function that removes exactly that handler.
import { describe, expect, it } from "vitest";
import { EventBus } from "../../src/bus";

type Events = { ping: number; pong: string };

describe("R1: on() returns a remover for exactly that handler", () => {
  it("returns a function", () => {
    const bus = new EventBus<Events>();
    expect(typeof bus.on("ping", () => {})).toBe("function");
  });

  it("removes the handler it was returned for and no other", () => {
    const bus = new EventBus<Events>();
    const calls: string[] = [];
    bus.on("ping", () => calls.push("a"));
    const removeB = bus.on("ping", () => calls.push("b"));
    bus.on("ping", () => calls.push("c"));
    bus.emit("ping", 1);
    expect(calls).toEqual(["a", "b", "c"]);

    calls.length = 0;
    removeB();
    bus.emit("ping", 2);
    expect(calls).toEqual(["a", "c"]);
    expect(bus.listenerCount("ping")).toBe(2);
  });

  it("leaves the same function subscribed to another event", () => {
    const bus = new EventBus<Events>();
    const seen: unknown[] = [];
    const handler = (payload: unknown) => seen.push(payload);
    const removePing = bus.on("ping", handler);
    bus.on("pong", handler);
    removePing();
    bus.emit("ping", 1);
    bus.emit("pong", "still here");
    expect(seen).toEqual(["still here"]);
  });

  it("removes only its own subscription when one function is subscribed twice", () => {
    const bus = new EventBus<Events>();
    let calls = 0;
    const handler = () => {
      calls += 1;
    };
    const first = bus.on("ping", handler);
    bus.on("ping", handler);
    first();
    bus.emit("ping", 1);
    expect(calls).toBe(1);
    expect(bus.listenerCount("ping")).toBe(1);
  });

  it("does nothing more when called again", () => {
    const bus = new EventBus<Events>();
    let calls = 0;
    const handler = () => {
      calls += 1;
    };
    const first = bus.on("ping", handler);
    bus.on("ping", handler);
    first();
    first(); // must not take the second subscription of the same function with it
    bus.emit("ping", 1);
    expect(calls).toBe(1);
    expect(bus.listenerCount("ping")).toBe(1);
  });

  it("does not disturb handlers of other events", () => {
    const bus = new EventBus<Events>();
    const seen: string[] = [];
    const remove = bus.on("ping", () => seen.push("ping"));
    bus.on("pong", () => seen.push("pong"));
    remove();
    bus.emit("pong", "x");
    bus.emit("ping", 1);
    expect(seen).toEqual(["pong"]);
  });
});
