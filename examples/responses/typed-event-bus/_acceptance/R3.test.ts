// R3: An error thrown by one handler MUST NOT stop the other handlers; `emit` MUST return
// the list of errors thrown.
import { describe, expect, it } from "vitest";
import { EventBus } from "../../src/bus";

type Events = { job: string };

describe("R3: a throwing handler does not stop the others; emit returns the errors", () => {
  it("runs the handlers after a throwing one and returns its error", () => {
    const bus = new EventBus<Events>();
    const ran: string[] = [];
    const boom = new Error("boom");
    bus.on("job", () => ran.push("first"));
    bus.on("job", () => {
      ran.push("second");
      throw boom;
    });
    bus.on("job", () => ran.push("third"));
    let errors: Error[] = [];
    expect(() => {
      errors = bus.emit("job", "x");
    }).not.toThrow();
    expect(ran).toEqual(["first", "second", "third"]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBe(boom);
  });

  it("returns every error, in the order the handlers threw them", () => {
    const bus = new EventBus<Events>();
    const one = new TypeError("one");
    const two = new RangeError("two");
    let reached = false;
    bus.on("job", () => {
      throw one;
    });
    bus.on("job", () => {
      throw two;
    });
    bus.on("job", () => {
      reached = true;
    });
    const errors = bus.emit("job", "x");
    expect(reached).toBe(true);
    expect(errors).toEqual([one, two]);
    expect(errors[0]).toBe(one);
    expect(errors[1]).toBe(two);
  });

  it("returns an empty list when no handler throws", () => {
    const bus = new EventBus<Events>();
    bus.on("job", () => {});
    bus.on("job", () => {});
    expect(bus.emit("job", "x")).toEqual([]);
  });

  it("reports a thrown non-Error value too", () => {
    const bus = new EventBus<Events>();
    let after = false;
    bus.on("job", () => {
      throw "plain string";
    });
    bus.on("job", () => {
      after = true;
    });
    const errors = bus.emit("job", "x");
    expect(after).toBe(true);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toContain("plain string");
  });

  it("collects afresh on each emit", () => {
    const bus = new EventBus<Events>();
    let fail = true;
    bus.on("job", () => {
      if (fail) throw new Error("once");
    });
    expect(bus.emit("job", "x")).toHaveLength(1);
    fail = false;
    expect(bus.emit("job", "x")).toEqual([]);
  });
});
