// Slice interpolation: fill the slices between two drawn slices of a segment by interpolating
// their signed distance maps (shape-based interpolation, Raya & Udupa 1990). Works on the labelmap
// in (slice, row, column) order; only background voxels are filled, never another segment.

export interface InterpolationResult {
  /** Linear indices of the voxels that were filled, for undo. */
  readonly filled: Int32Array;
  /** The slice gaps that were filled, as [from, to] drawn slices. */
  readonly gaps: Array<readonly [number, number]>;
}

export interface InterpolationOptions {
  /** Physical spacing [row, column] so distances are isotropic in mm. */
  readonly pixelSpacing?: readonly [number, number];
  /** Gaps wider than this many slices are left alone (two separate nodules, not one). */
  readonly maxGap?: number;
}

export function interpolateSlices(
  labels: Uint8Array,
  shape: readonly [number, number, number],
  segment: number,
  { pixelSpacing = [1, 1], maxGap = 30 }: InterpolationOptions = {},
): InterpolationResult {
  const [slices, rows, columns] = shape;
  const plane = rows * columns;
  const drawn: number[] = [];
  const boxes: Box[] = [];
  for (let k = 0; k < slices; k++) {
    const box = boundingBox(labels, k * plane, rows, columns, segment);
    if (box) {
      drawn.push(k);
      boxes[k] = box;
    }
  }
  const filled: number[] = [];
  const gaps: Array<readonly [number, number]> = [];
  for (let n = 0; n + 1 < drawn.length; n++) {
    const k0 = drawn[n] ?? 0;
    const k1 = drawn[n + 1] ?? 0;
    const b0 = boxes[k0];
    const b1 = boxes[k1];
    if (k1 - k0 < 2 || k1 - k0 - 1 > maxGap || !b0 || !b1 || !overlaps(b0, b1)) continue;
    // Work inside the union of both boxes plus a margin: the shape cannot grow outside it.
    const box = grow(union(b0, b1), 2, rows, columns);
    const d0 = signedDistance(labels, k0 * plane, columns, box, segment, pixelSpacing);
    const d1 = signedDistance(labels, k1 * plane, columns, box, segment, pixelSpacing);
    const width = box.j1 - box.j0 + 1;
    for (let k = k0 + 1; k < k1; k++) {
      const t = (k - k0) / (k1 - k0);
      for (let i = box.i0; i <= box.i1; i++) {
        for (let j = box.j0; j <= box.j1; j++) {
          const local = (i - box.i0) * width + (j - box.j0);
          const d = (1 - t) * (d0[local] ?? 0) + t * (d1[local] ?? 0);
          const index = k * plane + i * columns + j;
          if (d <= 0 && labels[index] === 0) {
            labels[index] = segment;
            filled.push(index);
          }
        }
      }
    }
    gaps.push([k0, k1]);
  }
  return { filled: Int32Array.from(filled), gaps };
}

interface Box {
  i0: number;
  i1: number;
  j0: number;
  j1: number;
}

function boundingBox(labels: Uint8Array, offset: number, rows: number, columns: number, segment: number): Box | null {
  let box: Box | null = null;
  for (let i = 0; i < rows; i++) {
    const row = offset + i * columns;
    for (let j = 0; j < columns; j++) {
      if (labels[row + j] !== segment) continue;
      if (box === null) box = { i0: i, i1: i, j0: j, j1: j };
      else {
        if (i > box.i1) box.i1 = i;
        if (j < box.j0) box.j0 = j;
        if (j > box.j1) box.j1 = j;
      }
    }
  }
  return box;
}

function overlaps(a: Box, b: Box): boolean {
  return a.i0 <= b.i1 && b.i0 <= a.i1 && a.j0 <= b.j1 && b.j0 <= a.j1;
}

function union(a: Box, b: Box): Box {
  return { i0: Math.min(a.i0, b.i0), i1: Math.max(a.i1, b.i1), j0: Math.min(a.j0, b.j0), j1: Math.max(a.j1, b.j1) };
}

function grow(box: Box, by: number, rows: number, columns: number): Box {
  return {
    i0: Math.max(0, box.i0 - by),
    i1: Math.min(rows - 1, box.i1 + by),
    j0: Math.max(0, box.j0 - by),
    j1: Math.min(columns - 1, box.j1 + by),
  };
}

/** Signed Euclidean distance inside `box`: negative inside the segment, positive outside (mm). */
export function signedDistance(
  labels: Uint8Array,
  offset: number,
  columns: number,
  box: Box,
  segment: number,
  pixelSpacing: readonly [number, number],
): Float32Array {
  const height = box.i1 - box.i0 + 1;
  const width = box.j1 - box.j0 + 1;
  const inside = new Uint8Array(height * width);
  for (let i = 0; i < height; i++)
    for (let j = 0; j < width; j++)
      inside[i * width + j] = labels[offset + (i + box.i0) * columns + (j + box.j0)] === segment ? 1 : 0;
  const toInside = distanceTransform(inside, height, width, 1, pixelSpacing);
  const toOutside = distanceTransform(inside, height, width, 0, pixelSpacing);
  const out = new Float32Array(height * width);
  // Half a pixel moves the zero level onto the boundary between inside and outside centres.
  for (let n = 0; n < out.length; n++) {
    out[n] = inside[n] === 1 ? -(toOutside[n] ?? 0) + 0.5 : (toInside[n] ?? 0) - 0.5;
  }
  return out;
}

/** Exact Euclidean distance (mm) from each pixel to the nearest pixel whose mask value is `target`. */
function distanceTransform(
  mask: Uint8Array,
  height: number,
  width: number,
  target: 0 | 1,
  [rowSpacing, columnSpacing]: readonly [number, number],
): Float64Array {
  const INF = 1e20;
  const f = new Float64Array(height * width);
  for (let n = 0; n < f.length; n++) f[n] = mask[n] === target ? 0 : INF;
  // Felzenszwalb & Huttenlocher: separable squared distance, one 1D pass per axis.
  const line = new Float64Array(Math.max(height, width));
  const out = new Float64Array(Math.max(height, width));
  for (let i = 0; i < height; i++) {
    for (let j = 0; j < width; j++) line[j] = f[i * width + j] ?? INF;
    edt1d(line, width, columnSpacing, out);
    for (let j = 0; j < width; j++) f[i * width + j] = out[j] ?? INF;
  }
  for (let j = 0; j < width; j++) {
    for (let i = 0; i < height; i++) line[i] = f[i * width + j] ?? INF;
    edt1d(line, height, rowSpacing, out);
    for (let i = 0; i < height; i++) f[i * width + j] = out[i] ?? INF;
  }
  for (let n = 0; n < f.length; n++) f[n] = Math.sqrt(f[n] ?? INF);
  return f;
}

function edt1d(f: Float64Array, n: number, spacing: number, d: Float64Array): void {
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  const s2 = spacing * spacing;
  let k = 0;
  v[0] = 0;
  z[0] = -Infinity;
  z[1] = Infinity;
  for (let q = 1; q < n; q++) {
    let s = 0;
    for (;;) {
      const p = v[k] ?? 0;
      s = ((f[q] ?? 0) + s2 * q * q - ((f[p] ?? 0) + s2 * p * p)) / (2 * s2 * (q - p));
      // z[0] is -Infinity, so this stops at k = 0 at the latest.
      if (s <= (z[k] ?? 0)) k--;
      else break;
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while ((z[k + 1] ?? Infinity) < q) k++;
    const p = v[k] ?? 0;
    d[q] = s2 * (q - p) * (q - p) + (f[p] ?? 0);
  }
}
