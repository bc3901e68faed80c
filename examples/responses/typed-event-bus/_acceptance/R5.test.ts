// R5: Middleware SHOULD be able to drop an event by returning `null`.
import { describe, expect, it } from "vitest";
import { EventBus } from "../../src/bus";

type Events = { msg: string; count: number };

describe("R5: middleware drops an event by returning null", () => {
  it("no handler runs for a dropped event, and emit reports no errors", () => {
    const bus = new EventBus<Events>();
    let calls = 0;
    bus.on("msg", () => {
      calls += 1;
    });
    bus.on("msg", () => {
      throw new Error("must not run");
    });
    bus.use(() => null);
    expect(bus.emit("msg", "hello")).toEqual([]);
    expect(calls).toBe(0);
  });

  it("drops only what the middleware returns null for", () => {
    const bus = new EventBus<Events>();
    const seen: string[] = [];
    bus.on("msg", (m) => seen.push(m));
    bus.use((_name, payload) => (payload === "spam" ? null : payload));
    bus.emit("msg", "hello");
    bus.emit("msg", "spam");
    bus.emit("msg", "world");
    expect(seen).toEqual(["hello", "world"]);
  });

  it("can drop by event name", () => {
    const bus = new EventBus<Events>();
    const seen: string[] = [];
    bus.on("msg", (m) => seen.push(`msg:${m}`));
    bus.on("count", (n) => seen.push(`count:${n}`));
    bus.use((name, payload) => (name === "count" ? null : payload));
    bus.emit("count", 3);
    bus.emit("msg", "kept");
    expect(seen).toEqual(["msg:kept"]);
  });

  it("a later middleware in the chain can drop the event too", () => {
    const bus = new EventBus<Events>();
    let calls = 0;
    bus.on("msg", () => {
      calls += 1;
    });
    bus.use((_name, payload) => payload);
    bus.use(() => null);
    bus.emit("msg", "x");
    expect(calls).toBe(0);
  });

  it("only null drops: falsy payloads passed on are delivered", () => {
    const bus = new EventBus<Events>();
    const seen: unknown[] = [];
    bus.on("count", (n) => seen.push(n));
    bus.on("msg", (m) => seen.push(m));
    bus.use((_name, payload) => payload);
    bus.emit("count", 0);
    bus.emit("msg", "");
    expect(seen).toEqual([0, ""]);
  });

  it("the handlers stay subscribed after a dropped event", () => {
    const bus = new EventBus<Events>();
    let drop = true;
    const seen: string[] = [];
    bus.on("msg", (m) => seen.push(m));
    bus.use((_name, payload) => (drop ? null : payload));
    bus.emit("msg", "dropped");
    drop = false;
    bus.emit("msg", "delivered");
    expect(seen).toEqual(["delivered"]);
    expect(bus.listenerCount("msg")).toBe(1);
  });
});
