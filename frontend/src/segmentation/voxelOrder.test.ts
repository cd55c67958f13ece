import { describe, expect, test } from "vitest";

import {
  fromWireOrder,
  gridMismatch,
  indexToWorld,
  ownedInWireOrder,
  toWireOrder,
  wireGrid,
  wireToSourceSlices,
  type Vec3,
} from "./voxelOrder";

const AXIAL = [1, 0, 0, 0, 1, 0]; // normal +z (feet to head)
const slicesAt = (zs: number[]): Vec3[] => zs.map((z) => [-100, -120, z]);

// Slice s of a 3-slice, 1x2 volume holds [10*s+1, 10*s+2] so every voxel says where it came from.
const volume = (order: number[]): Uint8Array =>
  Uint8Array.from(order.flatMap((s) => [10 * s + 1, 10 * s + 2]));

describe("wireToSourceSlices", () => {
  test("slices already ascending along the normal map to themselves", () => {
    expect(Array.from(wireToSourceSlices(slicesAt([-300, -297.5, -295]), AXIAL))).toEqual([0, 1, 2]);
  });

  test("slices held head to feet (flipped) map in reverse", () => {
    expect(Array.from(wireToSourceSlices(slicesAt([-295, -297.5, -300]), AXIAL))).toEqual([2, 1, 0]);
  });

  test("shuffled slices are sorted by position along the normal, not by z alone", () => {
    // Row x column = (1,0,0) x (0,0,-1) = (0,1,0): a coronal stack ascends along y.
    const coronal = [1, 0, 0, 0, 0, -1];
    const positions: Vec3[] = [[0, 5, 0], [0, -5, 9], [0, 0, -9]];
    expect(Array.from(wireToSourceSlices(positions, coronal))).toEqual([1, 2, 0]);
  });

  test("a normal pointing head to feet sorts the other way", () => {
    // (1,0,0) x (0,-1,0) = (0,0,-1)
    expect(Array.from(wireToSourceSlices(slicesAt([1, 2, 3]), [1, 0, 0, 0, -1, 0]))).toEqual([2, 1, 0]);
  });
});

describe("toWireOrder and fromWireOrder", () => {
  test("a flipped viewer order is reversed into wire order", () => {
    const map = Int32Array.from([2, 1, 0]);
    const viewer = volume([2, 1, 0]); // viewer slice 0 is wire slice 2
    expect(Array.from(toWireOrder(viewer, 2, map))).toEqual(Array.from(volume([0, 1, 2])));
  });

  test("round trip restores the viewer order for any permutation", () => {
    const map = Int32Array.from([1, 2, 0]);
    const viewer = volume([7, 8, 9]);
    expect(Array.from(fromWireOrder(toWireOrder(viewer, 2, map), 2, map))).toEqual(Array.from(viewer));
  });

  test("the identity copies without aliasing the source", () => {
    const viewer = volume([0, 1, 2]);
    const wire = toWireOrder(viewer, 2, Int32Array.from([0, 1, 2]));
    wire[0] = 99;
    expect(viewer[0]).toBe(1);
  });

  test("a length that does not match the slices is refused", () => {
    expect(() => toWireOrder(new Uint8Array(5), 2, Int32Array.from([0, 1, 2]))).toThrow("3 slices of 2");
  });

  test("an owned array already in wire order is returned, not copied; any other order is", () => {
    const owned = volume([0, 1, 2]);
    expect(ownedInWireOrder(owned, 2, Int32Array.from([0, 1, 2]))).toBe(owned);
    const flipped = ownedInWireOrder(volume([2, 1, 0]), 2, Int32Array.from([2, 1, 0]));
    expect(Array.from(flipped)).toEqual(Array.from(volume([0, 1, 2])));
    expect(() => ownedInWireOrder(new Uint8Array(5), 2, Int32Array.from([0, 1, 2]))).toThrow("3 slices of 2");
  });
});

describe("wireGrid", () => {
  const geometry = {
    positions: slicesAt([-295, -297.5, -300]),
    orientation: AXIAL,
    pixelSpacing: [0.7, 0.8] as [number, number],
    rows: 4,
    columns: 5,
  };

  test("origin is the position of the lowest slice along the normal, even when held flipped", () => {
    const { grid, map } = wireGrid(geometry, "1.2.3");
    expect(grid.origin).toEqual([-100, -120, -300]);
    expect(Array.from(map)).toEqual([2, 1, 0]);
  });

  test("shape is (slices, rows, columns) and spacing (slice, row, column)", () => {
    const { grid } = wireGrid(geometry, "1.2.3");
    expect(grid.shape).toEqual([3, 4, 5]);
    expect(grid.spacing).toEqual([2.5, 0.7, 0.8]);
    expect(grid.direction).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(grid.series).toBe("1.2.3");
  });

  test("the server's slice spacing is used when given", () => {
    expect(wireGrid({ ...geometry, sliceSpacing: 2.4 }, "s").grid.spacing[0]).toBe(2.4);
  });
});

describe("gridMismatch", () => {
  const { grid } = wireGrid(
    { positions: slicesAt([0, 1, 2]), orientation: AXIAL, pixelSpacing: [1, 1], rows: 2, columns: 2 },
    "s",
  );

  test("the same grid matches", () => {
    expect(gridMismatch(grid, grid)).toBeNull();
  });

  test("a different shape is named", () => {
    expect(gridMismatch({ ...grid, shape: [4, 2, 2] }, grid)).toContain("shape 4x2x2");
  });

  test("an origin at the other end of the stack is named", () => {
    expect(gridMismatch({ ...grid, origin: [-100, -120, 2] }, grid)).toContain("origin");
  });
});

describe("indexToWorld", () => {
  test("row index walks the column direction and column index the row direction", () => {
    const grid = { origin: [10, 20, 30] as const, spacing: [2, 0.5, 0.25] as const, direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
    expect(indexToWorld([1, 2, 4], grid)).toEqual([11, 21, 32]);
  });

  test("an oblique direction is followed", () => {
    const s = Math.SQRT1_2;
    const grid = { origin: [0, 0, 0] as const, spacing: [1, 1, 1] as const, direction: [s, s, 0, -s, s, 0, 0, 0, 1] };
    const [x, y, z] = indexToWorld([0, 0, 1], grid);
    expect(x).toBeCloseTo(s);
    expect(y).toBeCloseTo(s);
    expect(z).toBe(0);
  });
});
