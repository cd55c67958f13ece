// Between the wire order of a labelmap (slice k = the k-th image ascending along the normal
// n = r x c, docs/labelmap-wire-format.md) and the order Cornerstone holds the same slices in
// (its volume's sorted imageIds, or a stack's imageIds). Rows and columns are the DICOM image
// rows and columns in both, so only the slice axis can be permuted.

import type { Triple, GridHeader } from "./wire";

export type Vec3 = readonly [number, number, number];

export function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

export function dot(a: Vec3, b: Vec3): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

/** Row and column direction from ImageOrientationPatient (6 numbers). */
export function orientationVectors(iop: readonly number[]): { row: Vec3; column: Vec3; normal: Vec3 } {
  if (iop.length !== 6) throw new Error("ImageOrientationPatient must hold 6 numbers");
  const row: Vec3 = [iop[0] ?? 0, iop[1] ?? 0, iop[2] ?? 0];
  const column: Vec3 = [iop[3] ?? 0, iop[4] ?? 0, iop[5] ?? 0];
  return { row, column, normal: cross(row, column) };
}

/**
 * For each wire slice k, the index of that slice in `sourcePositions` (the ImagePositionPatient
 * of each slice in the order the viewer holds them). Ties keep source order (a stable sort, as
 * the server's numpy argsort(kind="stable")).
 */
export function wireToSourceSlices(sourcePositions: readonly Vec3[], iop: readonly number[]): Int32Array {
  const { normal } = orientationVectors(iop);
  const along = sourcePositions.map((p) => dot(p, normal));
  const order = Array.from(along.keys()).sort((a, b) => (along[a] ?? 0) - (along[b] ?? 0) || a - b);
  return Int32Array.from(order);
}

/** Slice k of the result is slice map[k] of `source` (source in viewer order -> wire order). */
export function toWireOrder(source: Uint8Array, sliceSize: number, map: Int32Array): Uint8Array {
  checkLength(source, sliceSize, map);
  if (isIdentity(map)) return source.slice();
  const wire = new Uint8Array(source.length);
  for (let k = 0; k < map.length; k++) {
    const from = (map[k] ?? 0) * sliceSize;
    wire.set(source.subarray(from, from + sliceSize), k * sliceSize);
  }
  return wire;
}

/** toWireOrder for an array the caller owns (made for this call): returned as it is when its
 * slices are already in wire order, instead of copied. */
export function ownedInWireOrder(owned: Uint8Array, sliceSize: number, map: Int32Array): Uint8Array {
  checkLength(owned, sliceSize, map);
  return isIdentity(map) ? owned : toWireOrder(owned, sliceSize, map);
}

/** The inverse of toWireOrder: wire order -> viewer order. */
export function fromWireOrder(wire: Uint8Array, sliceSize: number, map: Int32Array): Uint8Array {
  checkLength(wire, sliceSize, map);
  if (isIdentity(map)) return wire.slice();
  const source = new Uint8Array(wire.length);
  for (let k = 0; k < map.length; k++) {
    const to = (map[k] ?? 0) * sliceSize;
    source.set(wire.subarray(k * sliceSize, (k + 1) * sliceSize), to);
  }
  return source;
}

export function isIdentity(map: Int32Array): boolean {
  return map.every((v, i) => v === i);
}

function checkLength(data: Uint8Array, sliceSize: number, map: Int32Array): void {
  if (data.length !== sliceSize * map.length) {
    throw new Error(`expected ${map.length} slices of ${sliceSize} voxels, got ${data.length} voxels`);
  }
}

export interface SliceGeometry {
  readonly positions: readonly Vec3[]; // ImagePositionPatient per slice, viewer order
  readonly orientation: readonly number[]; // ImageOrientationPatient, shared by all slices
  readonly pixelSpacing: readonly [number, number]; // [row spacing, column spacing]
  readonly rows: number;
  readonly columns: number;
  readonly sliceSpacing?: number | null; // from the server's geometry when known
}

/** The wire header grid of a series whose slices the viewer holds as `geometry`. */
export function wireGrid(geometry: SliceGeometry, series: string): { grid: GridHeader; map: Int32Array } {
  const map = wireToSourceSlices(geometry.positions, geometry.orientation);
  const { row, column, normal } = orientationVectors(geometry.orientation);
  const first = geometry.positions[map[0] ?? 0] ?? [0, 0, 0];
  const grid: GridHeader = {
    shape: [geometry.positions.length, geometry.rows, geometry.columns],
    spacing: [sliceSpacing(geometry, map, normal), geometry.pixelSpacing[0], geometry.pixelSpacing[1]],
    origin: [first[0], first[1], first[2]],
    direction: [...row, ...column, ...normal],
    series,
  };
  return { grid, map };
}

function sliceSpacing(geometry: SliceGeometry, map: Int32Array, normal: Vec3): number {
  if (geometry.sliceSpacing != null && geometry.sliceSpacing > 0) return geometry.sliceSpacing;
  const along = Array.from(map, (i) => dot(geometry.positions[i] ?? [0, 0, 0], normal));
  const steps = along.slice(1).map((v, i) => v - (along[i] ?? 0)).sort((a, b) => a - b);
  if (steps.length === 0) return 1;
  const median = steps[Math.floor(steps.length / 2)] ?? 1;
  return Math.round(median * 1e4) / 1e4 || 1;
}

/** Why a loaded labelmap's grid does not fit the series as the viewer has it, or null. */
export function gridMismatch(loaded: GridHeader, expected: GridHeader, toleranceMm = 0.05): string | null {
  if (!sameNumbers(loaded.shape, expected.shape, 0)) {
    return `labelmap shape ${loaded.shape.join("x")} does not match the series (${expected.shape.join("x")})`;
  }
  if (!sameNumbers(loaded.direction, expected.direction, 1e-3)) {
    return "labelmap orientation does not match the series";
  }
  if (!sameNumbers(loaded.origin, expected.origin, toleranceMm)) {
    return "labelmap origin does not match the first slice of the series";
  }
  return null;
}

function sameNumbers(a: readonly number[], b: readonly number[], tolerance: number): boolean {
  return a.length === b.length && a.every((v, i) => Math.abs(v - (b[i] ?? Number.NaN)) <= tolerance);
}

/** Index (slice, row, column) -> patient coordinates in mm, through origin, spacing, direction. */
export function indexToWorld(index: Vec3, grid: Pick<GridHeader, "origin" | "spacing" | "direction">): Vec3 {
  const [k, i, j] = index;
  const d = grid.direction;
  const [ss, rs, cs] = grid.spacing;
  const o: Triple = grid.origin;
  // Column index j walks along the row direction r, row index i along the column direction c.
  const at = (axis: number): number =>
    (o[axis] ?? 0) + j * cs * (d[axis] ?? 0) + i * rs * (d[3 + axis] ?? 0) + k * ss * (d[6 + axis] ?? 0);
  return [at(0), at(1), at(2)];
}
