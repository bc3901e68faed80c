// R4: `bus.once(name, handler)` MUST call the handler at most one time.
import { describe, expect, it } from "vitest";
import { EventBus } from "../../src/bus";

type Events = { tick: number };

describe("R4: once() calls the handler at most one time", () => {
  it("calls the handler for the first emit only, with its payload", () => {
    const bus = new EventBus<Events>();
    const seen: number[] = [];
    bus.once("tick", (n) => seen.push(n));
    bus.emit("tick", 1);
    bus.emit("tick", 2);
    bus.emit("tick", 3);
    expect(seen).toEqual([1]);
  });

  it("keeps calling the ordinary handlers of the event", () => {
    const bus = new EventBus<Events>();
    const seen: string[] = [];
    bus.on("tick", (n) => seen.push(`on${n}`));
    bus.once("tick", (n) => seen.push(`once${n}`));
    bus.emit("tick", 1);
    bus.emit("tick", 2);
    expect(seen).toEqual(["on1", "once1", "on2"]);
  });

  it("is not called again when it emits the same event itself", () => {
    const bus = new EventBus<Events>();
    let calls = 0;
    bus.once("tick", (n) => {
      calls += 1;
      if (n < 5) bus.emit("tick", n + 1);
    });
    bus.emit("tick", 1);
    expect(calls).toBe(1);
  });

  it("is not called again after it threw", () => {
    const bus = new EventBus<Events>();
    let calls = 0;
    bus.once("tick", () => {
      calls += 1;
      throw new Error("fails");
    });
    expect(bus.emit("tick", 1)).toHaveLength(1);
    expect(bus.emit("tick", 2)).toEqual([]);
    expect(calls).toBe(1);
  });

  it("is never called when removed before the event", () => {
    const bus = new EventBus<Events>();
    let calls = 0;
    const remove = bus.once("tick", () => {
      calls += 1;
    });
    remove();
    bus.emit("tick", 1);
    expect(calls).toBe(0);
  });

  it("two once handlers each run one time", () => {
    const bus = new EventBus<Events>();
    const seen: string[] = [];
    bus.once("tick", () => seen.push("a"));
    bus.once("tick", () => seen.push("b"));
    bus.emit("tick", 1);
    bus.emit("tick", 2);
    expect(seen).toEqual(["a", "b"]);
  });
});
