import { describe, expect, test } from "vitest";

import { nearestFirst } from "./loadOrder";

describe("nearestFirst", () => {
  test("starts at the given slice and alternates outwards", () => {
    expect(nearestFirst(7, 3)).toEqual([3, 2, 4, 1, 5, 0, 6]);
  });

  test("runs on along one side once the other ends", () => {
    expect(nearestFirst(6, 1)).toEqual([1, 0, 2, 3, 4, 5]);
    expect(nearestFirst(4, 3)).toEqual([3, 2, 1, 0]);
  });

  test("lists every slice once, from a start outside the range too", () => {
    for (const start of [-5, 0, 66, 132, 500]) {
      const order = nearestFirst(133, start);
      expect(new Set(order).size).toBe(133);
      expect(Math.min(...order)).toBe(0);
      expect(Math.max(...order)).toBe(132);
    }
  });

  test("is empty for no slices", () => {
    expect(nearestFirst(0, 0)).toEqual([]);
  });
});
