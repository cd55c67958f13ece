import { describe, expect, test } from "vitest";

import { interpolateSlices, signedDistance } from "./interpolation";

const SHAPE: [number, number, number] = [5, 20, 20];

function disc(labels: Uint8Array, k: number, ci: number, cj: number, r: number, value = 1): void {
  for (let i = 0; i < SHAPE[1]; i++)
    for (let j = 0; j < SHAPE[2]; j++)
      if ((i - ci) ** 2 + (j - cj) ** 2 <= r * r) labels[k * 400 + i * 20 + j] = value;
}

const count = (labels: Uint8Array, k: number, value = 1): number =>
  labels.subarray(k * 400, (k + 1) * 400).filter((v) => v === value).length;

describe("interpolateSlices", () => {
  test("two equal discs fill the slices between them with the same disc", () => {
    const labels = new Uint8Array(5 * 400);
    disc(labels, 0, 10, 10, 4);
    disc(labels, 4, 10, 10, 4);
    const result = interpolateSlices(labels, SHAPE, 1);
    expect(result.gaps).toEqual([[0, 4]]);
    for (const k of [1, 2, 3]) expect(count(labels, k)).toBe(count(labels, 0));
    expect(result.filled.length).toBe(3 * count(labels, 0));
  });

  test("a small and a large disc give a size in between", () => {
    const labels = new Uint8Array(5 * 400);
    disc(labels, 0, 10, 10, 2);
    disc(labels, 4, 10, 10, 6);
    interpolateSlices(labels, SHAPE, 1);
    const sizes = [0, 1, 2, 3, 4].map((k) => count(labels, k));
    expect(sizes).toEqual([...sizes].sort((a, b) => a - b));
    expect(sizes[2]).toBeGreaterThan(sizes[0] ?? 0);
    expect(sizes[2]).toBeLessThan(sizes[4] ?? 0);
  });

  test("a shifted disc moves across the gap", () => {
    const labels = new Uint8Array(5 * 400);
    disc(labels, 0, 10, 6, 4);
    disc(labels, 4, 10, 10, 4);
    interpolateSlices(labels, SHAPE, 1);
    expect(labels[2 * 400 + 10 * 20 + 8]).toBe(1);
    expect(labels[2 * 400 + 10 * 20 + 3]).toBe(0);
    expect(labels[2 * 400 + 10 * 20 + 13]).toBe(0);
  });

  test("other segments are never overwritten and not interpolated", () => {
    const labels = new Uint8Array(5 * 400);
    disc(labels, 0, 10, 10, 4);
    disc(labels, 4, 10, 10, 4);
    disc(labels, 2, 10, 10, 1, 2);
    interpolateSlices(labels, SHAPE, 1);
    expect(labels[2 * 400 + 10 * 20 + 10]).toBe(2);
    expect(count(labels, 1, 2)).toBe(0);
  });

  test("adjacent drawn slices and a single drawn slice change nothing", () => {
    const labels = new Uint8Array(5 * 400);
    disc(labels, 1, 10, 10, 3);
    disc(labels, 2, 10, 10, 3);
    expect(interpolateSlices(labels, SHAPE, 1).filled.length).toBe(0);
  });

  test("discs that do not overlap in plane are separate nodules, left alone", () => {
    const labels = new Uint8Array(5 * 400);
    disc(labels, 0, 4, 4, 2);
    disc(labels, 4, 15, 15, 2);
    expect(interpolateSlices(labels, SHAPE, 1).gaps).toEqual([]);
  });

  test("a gap wider than maxGap is left alone", () => {
    const labels = new Uint8Array(5 * 400);
    disc(labels, 0, 10, 10, 3);
    disc(labels, 4, 10, 10, 3);
    expect(interpolateSlices(labels, SHAPE, 1, { maxGap: 2 }).filled.length).toBe(0);
  });
});

describe("signedDistance", () => {
  test("is negative inside, positive outside and grows with distance in mm", () => {
    const labels = new Uint8Array(1 * 5 * 5);
    labels[2 * 5 + 2] = 1;
    const d = signedDistance(labels, 0, 5, { i0: 0, i1: 4, j0: 0, j1: 4 }, 1, [1, 2]);
    expect(d[2 * 5 + 2]).toBeLessThan(0);
    expect(d[2 * 5 + 3]).toBeCloseTo(2 - 0.5); // one column away: 2 mm
    expect(d[3 * 5 + 2]).toBeCloseTo(1 - 0.5); // one row away: 1 mm
    expect(d[0]).toBeCloseTo(Math.hypot(2 * 1, 2 * 2) - 0.5);
  });
});
