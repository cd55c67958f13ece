import { describe, expect, test } from "vitest";

import type { Finding } from "../api/types";
import { connectedComponents, labelSignature } from "./components";
import { findingsFor } from "./match";
import { measure } from "./measure";

const IDENTITY = [1, 0, 0, 0, 1, 0, 0, 0, 1];

function grid(shape: [number, number, number], spacing: [number, number, number] = [1, 1, 1]) {
  return { shape, spacing, origin: [0, 0, 0] as [number, number, number], direction: IDENTITY };
}

function labels(shape: [number, number, number], set: Array<[number, number, number, number]>): Uint8Array {
  const out = new Uint8Array(shape[0] * shape[1] * shape[2]);
  for (const [k, i, j, value] of set) out[k * shape[1] * shape[2] + i * shape[2] + j] = value;
  return out;
}

function ball(shape: [number, number, number], centre: [number, number, number], radius: number, value = 1): Uint8Array {
  const out = new Uint8Array(shape[0] * shape[1] * shape[2]);
  for (let k = 0; k < shape[0]; k++)
    for (let i = 0; i < shape[1]; i++)
      for (let j = 0; j < shape[2]; j++)
        if ((k - centre[0]) ** 2 + (i - centre[1]) ** 2 + (j - centre[2]) ** 2 <= radius ** 2)
          out[k * shape[1] * shape[2] + i * shape[2] + j] = value;
  return out;
}

describe("connectedComponents", () => {
  test("voxels touching only at a corner are one component (26-connectivity)", () => {
    const shape: [number, number, number] = [2, 2, 2];
    const components = connectedComponents(labels(shape, [[0, 0, 0, 1], [1, 1, 1, 1]]), shape);
    expect(components).toHaveLength(1);
    expect(Array.from(components[0]?.voxels ?? [])).toEqual([0, 7]);
  });

  test("voxels touching only at an edge are one component", () => {
    const shape: [number, number, number] = [1, 2, 2];
    expect(connectedComponents(labels(shape, [[0, 0, 0, 1], [0, 1, 1, 1]]), shape)).toHaveLength(1);
  });

  test("voxels one voxel apart are two components", () => {
    const shape: [number, number, number] = [1, 1, 3];
    expect(connectedComponents(labels(shape, [[0, 0, 0, 1], [0, 0, 2, 1]]), shape)).toHaveLength(2);
  });

  test("touching voxels of different segments are separate components", () => {
    const shape: [number, number, number] = [1, 1, 2];
    const components = connectedComponents(labels(shape, [[0, 0, 0, 1], [0, 0, 1, 2]]), shape);
    expect(components.map((c) => c.segment)).toEqual([1, 2]);
  });

  test("neighbours do not wrap around row or slice ends", () => {
    const shape: [number, number, number] = [2, 2, 2];
    // (0,0,1) and (0,1,0) are diagonal neighbours; (0,1,1) and (1,0,0) are corner neighbours;
    // but (0,0,1) and index 2 = (0,1,0) must not also link through wrap-around.
    const components = connectedComponents(labels(shape, [[0, 0, 1, 1], [1, 1, 0, 1]]), shape);
    expect(components).toHaveLength(1);
    const apart = connectedComponents(labels([1, 2, 3], [[0, 0, 2, 1], [0, 1, 0, 1]]), [1, 2, 3]);
    expect(apart).toHaveLength(2);
  });

  test("an empty labelmap has no components", () => {
    expect(connectedComponents(new Uint8Array(27), [3, 3, 3])).toEqual([]);
  });

  test("a large component does not overflow the stack", () => {
    const shape: [number, number, number] = [40, 64, 64];
    const components = connectedComponents(new Uint8Array(40 * 64 * 64).fill(1), shape);
    expect(components).toHaveLength(1);
    expect(components[0]?.voxels.length).toBe(40 * 64 * 64);
  });
});

describe("measure", () => {
  test("volume is the voxel count times the voxel volume in mm3", () => {
    const shape: [number, number, number] = [3, 3, 3];
    const [component] = connectedComponents(labels(shape, [[0, 0, 0, 1], [0, 0, 1, 1]]), shape);
    const m = measure(component!, grid(shape, [2.5, 0.5, 0.8]));
    expect(m.voxelCount).toBe(2);
    expect(m.volumeMm3).toBeCloseTo(2 * 2.5 * 0.5 * 0.8);
  });

  test("long axis uses the spacing of each axis", () => {
    const shape: [number, number, number] = [4, 1, 1];
    const [component] = connectedComponents(labels(shape, [[0, 0, 0, 1], [1, 0, 0, 1], [2, 0, 0, 1], [3, 0, 0, 1]]), shape);
    expect(measure(component!, grid(shape, [2.5, 1, 1])).longAxisMm).toBeCloseTo(7.5);
  });

  test("long axis of a diagonal runs corner to corner in mm", () => {
    const shape: [number, number, number] = [2, 2, 2];
    const [component] = connectedComponents(labels(shape, [[0, 0, 0, 1], [1, 1, 1, 1]]), shape);
    expect(measure(component!, grid(shape, [3, 4, 12])).longAxisMm).toBeCloseTo(13);
  });

  test("a ball of radius 8 voxels has a long axis of 16 voxels", () => {
    const shape: [number, number, number] = [21, 21, 21];
    const [component] = connectedComponents(ball(shape, [10, 10, 10], 8), shape);
    const m = measure(component!, grid(shape, [0.7, 0.7, 0.7]));
    expect(m.longAxisMm).toBeCloseTo(16 * 0.7, 5);
    expect(m.centroidVoxel).toEqual([10, 10, 10]);
  });

  test("a large ball falls back to extreme points and stays within half a percent", () => {
    const shape: [number, number, number] = [61, 61, 61];
    const [component] = connectedComponents(ball(shape, [30, 30, 30], 28), shape);
    const m = measure(component!, grid(shape));
    expect(m.longAxisMm).toBeGreaterThan(56 * 0.995);
    expect(m.longAxisMm).toBeLessThanOrEqual(56 + 1e-9);
  });

  test("centroid in mm goes through origin, spacing and direction", () => {
    const shape: [number, number, number] = [3, 4, 5];
    const [component] = connectedComponents(labels(shape, [[2, 1, 3, 1]]), shape);
    // Direction: row r = +y, column c = -x, normal n = r x c = +z.
    const oblique = { shape, spacing: [2, 0.5, 0.25] as [number, number, number], origin: [10, 20, 30] as [number, number, number], direction: [0, 1, 0, -1, 0, 0, 0, 0, 1] };
    const m = measure(component!, oblique);
    // x = 10 - 1*0.5, y = 20 + 3*0.25, z = 30 + 2*2
    expect(m.centroidMm).toEqual([9.5, 20.75, 34]);
    expect(m.centroidVoxel).toEqual([2, 1, 3]);
  });
});

describe("findingsFor", () => {
  const shape: [number, number, number] = [10, 10, 10];
  const twoNodules = (): Uint8Array => {
    const a = ball(shape, [2, 2, 2], 1.5);
    const b = ball(shape, [7, 7, 7], 1.5);
    return a.map((v, i) => v || (b[i] ?? 0));
  };
  const measured = (data: Uint8Array) =>
    connectedComponents(data, shape).map((component) => ({ component, measurement: measure(component, grid(shape)) }));
  let counter = 0;
  const newId = (): string => `new-${++counter}`;

  const earlier: Finding = {
    id: "kept", segment: 1, voxel_count: 1, volume_mm3: 1, long_axis_mm: 3,
    centroid_mm: [7, 7, 7], centroid_voxel: [7, 7, 7], attributes: { malignancy: 4 },
    confidence: 0.93, comments: [{ author: "rev", text: "check margin", created_at: "2024-01-01" }],
  };

  test("a component over an earlier finding's centroid keeps its id, attributes, confidence, comments", () => {
    const findings = findingsFor(measured(twoNodules()), [earlier], shape, newId);
    expect(findings).toHaveLength(2);
    const kept = findings.find((f) => f.id === "kept");
    expect(kept).toMatchObject({ attributes: { malignancy: 4 }, confidence: 0.93, centroid_voxel: [7, 7, 7] });
    expect(kept?.comments).toHaveLength(1);
    const fresh = findings.find((f) => f.id !== "kept");
    expect(fresh).toMatchObject({ attributes: {}, confidence: null, comments: [] });
  });

  test("an earlier finding of another segment is not continued", () => {
    const findings = findingsFor(measured(twoNodules()), [{ ...earlier, segment: 2 }], shape, newId);
    expect(findings.map((f) => f.id)).not.toContain("kept");
  });

  test("a nodule drawn a little off its old centroid is still the same finding", () => {
    const moved = { ...earlier, centroid_voxel: [7, 9, 9] as const, centroid_mm: [7, 8.5, 8.5] as const };
    const findings = findingsFor(measured(twoNodules()), [moved], shape, newId);
    expect(findings.map((f) => f.id)).toContain("kept");
  });

  test("an earlier finding is continued by one component only", () => {
    const findings = findingsFor(measured(twoNodules()), [{ ...earlier, long_axis_mm: 100 }], shape, newId);
    expect(findings.filter((f) => f.id === "kept")).toHaveLength(1);
  });

  test("a finding whose nodule was erased disappears", () => {
    expect(findingsFor([], [earlier], shape, newId)).toEqual([]);
  });
});

describe("labelSignature", () => {
  const shape: [number, number, number] = [2, 3, 3];
  const sign = (data: Uint8Array): string => labelSignature(connectedComponents(data, shape));

  test("equal labelmaps sign alike, an edited one differently", () => {
    const a = labels(shape, [[0, 0, 0, 1], [1, 2, 2, 1]]);
    expect(sign(a)).toBe(sign(a.slice()));
    const moved = labels(shape, [[0, 0, 0, 1], [1, 2, 1, 1]]);
    expect(sign(moved)).not.toBe(sign(a));
    const relabelled = labels(shape, [[0, 0, 0, 1], [1, 2, 2, 2]]);
    expect(sign(relabelled)).not.toBe(sign(a));
  });

  test("an empty labelmap has its own signature", () => {
    expect(sign(new Uint8Array(18))).toBe("0:811c9dc5");
  });
});
