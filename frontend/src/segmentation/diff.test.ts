import { describe, expect, test } from "vitest";

import { DIFF_ADDED, DIFF_REMOVED, DiffMismatch, binarize, diceOf, diffSummary, labelDiff } from "./diff";

describe("labelDiff", () => {
  test("marks voxels only in the reviewed labels as added and only in the model's as removed", () => {
    const reviewed = new Uint8Array([0, 1, 1, 0, 2, 0]);
    const model = new Uint8Array([0, 1, 0, 1, 0, 0]);
    const diff = labelDiff(reviewed, model);
    expect([...diff.voxels]).toEqual([0, 0, DIFF_ADDED, DIFF_REMOVED, DIFF_ADDED, 0]);
    expect(diff).toMatchObject({ added: 2, removed: 1, common: 1 });
  });

  test("a voxel labelled in both with different segments is agreement, not a change", () => {
    const diff = labelDiff(new Uint8Array([2, 3]), new Uint8Array([1, 1]));
    expect([...diff.voxels]).toEqual([0, 0]);
    expect(diff).toMatchObject({ added: 0, removed: 0, common: 2 });
  });

  test("identical labels give an empty diff", () => {
    const labels = new Uint8Array(1000).map((_, i) => (i % 7 === 0 ? 1 : 0));
    const diff = labelDiff(labels, labels);
    expect(diff.voxels.every((v) => v === 0)).toBe(true);
    expect(diff.added + diff.removed).toBe(0);
  });

  test("a sphere grown by a shell is counted voxel by voxel", () => {
    // A 20³ grid: the model's sphere of radius 4, the reviewer's of radius 6, same centre.
    const n = 20;
    const sphere = (radius: number): Uint8Array => {
      const out = new Uint8Array(n * n * n);
      for (let k = 0; k < n; k++)
        for (let j = 0; j < n; j++)
          for (let i = 0; i < n; i++) {
            if ((k - 10) ** 2 + (j - 10) ** 2 + (i - 10) ** 2 <= radius * radius) out[k * n * n + j * n + i] = 1;
          }
      return out;
    };
    const small = sphere(4);
    const large = sphere(6);
    const count = (v: Uint8Array): number => v.reduce((s, x) => s + (x ? 1 : 0), 0);
    const grown = labelDiff(large, small);
    expect(grown.added).toBe(count(large) - count(small));
    expect(grown.removed).toBe(0);
    expect(grown.common).toBe(count(small));
    const shrunk = labelDiff(small, large);
    expect(shrunk).toMatchObject({ added: 0, removed: grown.added, common: count(small) });
  });

  test("labelmaps of different sizes are refused", () => {
    expect(() => labelDiff(new Uint8Array(3), new Uint8Array(4))).toThrow(DiffMismatch);
  });
});

describe("diceOf and diffSummary", () => {
  test("two empty label sets agree fully", () => {
    expect(diceOf({ added: 0, removed: 0, common: 0 })).toBe(1);
  });

  test("dice is twice the overlap over the total", () => {
    expect(diceOf({ added: 1, removed: 1, common: 2 })).toBeCloseTo(4 / 6);
  });

  test("the summary says the counts and the dice", () => {
    expect(diffSummary({ added: 12, removed: 3, common: 5 })).toBe("+12 / −3 voxels (Dice 0.40)");
  });
});

describe("binarize", () => {
  test("every segment becomes 1", () => {
    expect([...binarize(new Uint8Array([0, 1, 2, 255, 0]))]).toEqual([0, 1, 1, 1, 0]);
  });
});
