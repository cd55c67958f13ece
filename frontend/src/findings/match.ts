// Turn the labelmap's components into findings, keeping the identity (id, attributes, model
// confidence, reviewer comments) of the finding each component continues.

import type { Finding } from "../api/types";
import type { Component } from "./components";
import type { Measurement } from "./measure";

export interface MeasuredComponent {
  readonly component: Component;
  readonly measurement: Measurement;
}

export type NewId = () => string;

/**
 * One finding per component. A component continues an earlier finding of its segment when it
 * contains that finding's centroid voxel, or else when its own centroid is the nearest one within
 * the earlier finding's long axis; each earlier finding is continued at most once.
 */
export function findingsFor(
  measured: readonly MeasuredComponent[],
  previous: readonly Finding[],
  shape: readonly [number, number, number],
  newId: NewId,
): Finding[] {
  const [, rows, columns] = shape;
  const used = new Set<string>();
  const linear = (f: Finding): number =>
    f.centroid_voxel[0] * rows * columns + f.centroid_voxel[1] * columns + f.centroid_voxel[2];

  const claim = measured.map(({ component }) => {
    const hit = previous.find(
      (f) => !used.has(f.id) && f.segment === component.segment && contains(component.voxels, linear(f)),
    );
    if (hit) used.add(hit.id);
    return hit;
  });
  // Second pass: nearest unclaimed earlier finding by centroid distance in mm.
  measured.forEach(({ component, measurement }, index) => {
    if (claim[index] !== undefined) return;
    let best: Finding | undefined;
    let bestDistance = Infinity;
    for (const f of previous) {
      if (used.has(f.id) || f.segment !== component.segment) continue;
      const d = Math.hypot(
        f.centroid_mm[0] - measurement.centroidMm[0],
        f.centroid_mm[1] - measurement.centroidMm[1],
        f.centroid_mm[2] - measurement.centroidMm[2],
      );
      if (d <= Math.max(f.long_axis_mm, 1) && d < bestDistance) [best, bestDistance] = [f, d];
    }
    if (best) used.add(best.id);
    claim[index] = best;
  });

  return measured.map(({ component, measurement }, index) => {
    const earlier = claim[index];
    return {
      id: earlier?.id ?? newId(),
      segment: component.segment,
      voxel_count: measurement.voxelCount,
      volume_mm3: round(measurement.volumeMm3, 2),
      long_axis_mm: round(measurement.longAxisMm, 2),
      centroid_mm: [round(measurement.centroidMm[0], 2), round(measurement.centroidMm[1], 2), round(measurement.centroidMm[2], 2)],
      centroid_voxel: [...measurement.centroidVoxel],
      attributes: { ...(earlier?.attributes ?? {}) },
      confidence: earlier?.confidence ?? null,
      comments: earlier?.comments ?? [],
    };
  });
}

function contains(sorted: Int32Array, value: number): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = sorted[mid] ?? 0;
    if (v === value) return true;
    if (v < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
