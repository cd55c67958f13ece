// Measurements of one nodule (a connected component) in patient millimetres.

import type { GridHeader, Triple } from "../segmentation/wire";
import { indexToWorld, type Vec3 } from "../segmentation/voxelOrder";
import type { Component } from "./components";

export interface Measurement {
  readonly voxelCount: number;
  readonly volumeMm3: number;
  /** Largest distance between the centres of two voxels of the nodule, in mm (3D Feret diameter). */
  readonly longAxisMm: number;
  readonly centroidMm: Vec3;
  /** Mean voxel index, rounded: [slice, row, column] in wire order. */
  readonly centroidVoxel: Vec3;
}

type Grid = Pick<GridHeader, "shape" | "spacing" | "origin" | "direction">;

// Above this many surface voxels the exact O(n^2) search gives way to a search among the
// extreme voxels along many directions (the farthest pair always lies on the convex hull).
const EXACT_LIMIT = 3000;

export function measure(component: Component, grid: Grid): Measurement {
  const [, rows, columns] = grid.shape;
  const plane = rows * columns;
  const [ss, rs, cs] = grid.spacing;
  let sk = 0;
  let si = 0;
  let sj = 0;
  for (const v of component.voxels) {
    const k = Math.floor(v / plane);
    const rem = v - k * plane;
    const i = Math.floor(rem / columns);
    sk += k;
    si += i;
    sj += rem - i * columns;
  }
  const n = component.voxels.length;
  const mean: Vec3 = n === 0 ? [0, 0, 0] : [sk / n, si / n, sj / n];
  return {
    voxelCount: n,
    volumeMm3: n * ss * rs * cs,
    longAxisMm: longAxis(component, grid),
    centroidMm: indexToWorld(mean, grid),
    centroidVoxel: [Math.round(mean[0]), Math.round(mean[1]), Math.round(mean[2])],
  };
}

function longAxis(component: Component, grid: Grid): number {
  const points = surfacePoints(component, grid.shape).map((index) => indexToWorld(index, grid));
  const candidates = points.length <= EXACT_LIMIT ? points : extremePoints(points);
  let best = 0;
  for (let a = 0; a < candidates.length; a++) {
    const p = candidates[a] ?? [0, 0, 0];
    for (let b = a + 1; b < candidates.length; b++) {
      const q = candidates[b] ?? [0, 0, 0];
      const d = (p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 + (p[2] - q[2]) ** 2;
      if (d > best) best = d;
    }
  }
  return Math.sqrt(best);
}

/** Voxels with a face neighbour outside the component: only they can end the long axis. */
function surfacePoints(component: Component, shape: Triple): Vec3[] {
  const [slices, rows, columns] = shape;
  const plane = rows * columns;
  const members = new Set<number>(component.voxels);
  const out: Vec3[] = [];
  for (const v of component.voxels) {
    const k = Math.floor(v / plane);
    const rem = v - k * plane;
    const i = Math.floor(rem / columns);
    const j = rem - i * columns;
    const inside = (kk: number, ii: number, jj: number): boolean =>
      kk >= 0 && kk < slices && ii >= 0 && ii < rows && jj >= 0 && jj < columns &&
      members.has(kk * plane + ii * columns + jj);
    if (
      !inside(k - 1, i, j) || !inside(k + 1, i, j) || !inside(k, i - 1, j) ||
      !inside(k, i + 1, j) || !inside(k, i, j - 1) || !inside(k, i, j + 1)
    ) {
      out.push([k, i, j]);
    }
  }
  return out;
}

function extremePoints(points: Vec3[]): Vec3[] {
  const picked = new Set<number>();
  // Directions spread over a hemisphere (a Fibonacci lattice); each gives its two extremes.
  const count = 256;
  for (let d = 0; d < count; d++) {
    const z = 1 - (d + 0.5) / count;
    const r = Math.sqrt(1 - z * z);
    const phi = d * Math.PI * (3 - Math.sqrt(5));
    const dir: Vec3 = [r * Math.cos(phi), r * Math.sin(phi), z];
    let lo = 0;
    let hi = 0;
    let loValue = Infinity;
    let hiValue = -Infinity;
    points.forEach((p, index) => {
      const value = p[0] * dir[0] + p[1] * dir[1] + p[2] * dir[2];
      if (value < loValue) [loValue, lo] = [value, index];
      if (value > hiValue) [hiValue, hi] = [value, index];
    });
    picked.add(lo);
    picked.add(hi);
  }
  return Array.from(picked, (index) => points[index] ?? [0, 0, 0]);
}
