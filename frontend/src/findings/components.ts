// Connected components of a labelmap, one set per segment, with 26-connectivity: voxels that
// share a face, an edge or a corner belong to the same nodule.

import type { Triple } from "../segmentation/wire";

export interface Component {
  readonly segment: number;
  /** Linear indices (slice*rows*columns + row*columns + column), ascending. */
  readonly voxels: Int32Array;
}

/** Components in scan order of their first voxel; background (0) is skipped. */
export function connectedComponents(labels: Uint8Array, shape: Triple): Component[] {
  const [slices, rows, columns] = shape;
  const plane = rows * columns;
  if (labels.length !== slices * plane) {
    throw new Error(`labels hold ${labels.length} voxels, shape ${shape.join("x")} needs ${slices * plane}`);
  }
  const seen = new Uint8Array(labels.length);
  const stack = new Int32Array(Math.min(labels.length, 1 << 20));
  let grow: Int32Array = stack;
  const components: Component[] = [];
  for (let start = 0; start < labels.length; start++) {
    const segment = labels[start] ?? 0;
    if (segment === 0 || seen[start] === 1) continue;
    const members: number[] = [];
    let top = 0;
    grow[top++] = start;
    seen[start] = 1;
    while (top > 0) {
      const v = grow[--top] ?? 0;
      members.push(v);
      const k = Math.floor(v / plane);
      const rem = v - k * plane;
      const i = Math.floor(rem / columns);
      const j = rem - i * columns;
      for (let dk = -1; dk <= 1; dk++) {
        const kk = k + dk;
        if (kk < 0 || kk >= slices) continue;
        for (let di = -1; di <= 1; di++) {
          const ii = i + di;
          if (ii < 0 || ii >= rows) continue;
          for (let dj = -1; dj <= 1; dj++) {
            const jj = j + dj;
            if (jj < 0 || jj >= columns) continue;
            const n = kk * plane + ii * columns + jj;
            if (seen[n] === 1 || labels[n] !== segment) continue;
            seen[n] = 1;
            if (top === grow.length) {
              const bigger = new Int32Array(grow.length * 2);
              bigger.set(grow);
              grow = bigger;
            }
            grow[top++] = n;
          }
        }
      }
    }
    const voxels = Int32Array.from(members).sort();
    components.push({ segment, voxels });
  }
  return components;
}

/** A cheap fingerprint of a labelmap from its components: equal labelmaps give equal values. */
export function labelSignature(components: readonly Component[]): string {
  let hash = 0x811c9dc5;
  let count = 0;
  const mix = (value: number): void => {
    hash = Math.imul(hash ^ (value & 0xffff), 0x01000193);
    hash = Math.imul(hash ^ (value >>> 16), 0x01000193);
  };
  const ordered = [...components].sort((a, b) => (a.voxels[0] ?? 0) - (b.voxels[0] ?? 0) || a.segment - b.segment);
  for (const component of ordered) {
    mix(component.segment);
    for (const v of component.voxels) mix(v);
    count += component.voxels.length;
  }
  return `${count}:${(hash >>> 0).toString(16)}`;
}
