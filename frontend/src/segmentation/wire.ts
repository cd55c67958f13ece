// The labelmap wire format, version 1 (docs/labelmap-wire-format.md): the same bytes the
// Python encoder in annotations/labelmaps.py writes and the server checks on save.

export const MAGIC = "NFLM";
export const VERSION = 1;
export const GZIP = 1;
/** gzip of the voxels inside the header's "box" only; every voxel outside it is 0. */
export const GZIP_BOX = 2;
export const PREFIX_BYTES = 10;
export const MAX_HEADER_BYTES = 64 * 1024;

export type Triple = readonly [number, number, number];

export interface LabelmapHeader {
  readonly shape: Triple; // [slices, rows, columns]
  readonly spacing: Triple; // [slice, row, column] spacing in mm
  readonly origin: Triple; // ImagePositionPatient of slice 0, mm
  readonly direction: readonly number[]; // row r, column c, normal n (9 numbers)
  readonly series: string; // SeriesInstanceUID
  readonly sha256: string; // hex digest of the uncompressed voxels (those in the box, for compression 2)
}

export type GridHeader = Omit<LabelmapHeader, "sha256">;

/** [first slice, first row, first column, end slice, end row, end column], ends exclusive. */
export type Box = readonly [number, number, number, number, number, number];
export const EMPTY_BOX: Box = [0, 0, 0, 0, 0, 0];

export interface Labelmap {
  readonly header: LabelmapHeader;
  readonly voxels: Uint8Array; // shape[0]*shape[1]*shape[2], C order (slice, row, column)
}

export class InvalidLabelmap extends Error {
  override readonly name = "InvalidLabelmap";
}

/**
 * A labelmap's voxels on its grid: one array in C order (slice, row, column), or one array per
 * slice in that order (the viewer's own per-slice buffers, read without assembling a copy).
 */
export type Voxels = Uint8Array | readonly Uint8Array[];

/** Slice z of `voxels` (a view, no copy). */
function sliceOf(voxels: Voxels, sliceSize: number): (z: number) => Uint8Array {
  if (voxels instanceof Uint8Array) return (z) => voxels.subarray(z * sliceSize, (z + 1) * sliceSize);
  return (z) => voxels[z] ?? new Uint8Array(sliceSize);
}

function checkVoxels(voxels: Voxels, shape: Triple): void {
  const [slices, rows, columns] = shape;
  const fits = voxels instanceof Uint8Array ? voxels.length === voxelCount(shape) : voxels.length === slices && voxels.every((slice) => slice.length === rows * columns);
  if (!fits) throw new InvalidLabelmap(`voxels must hold ${voxelCount(shape)} bytes for shape ${shape.join("x")}`);
}

export function voxelCount(shape: Triple): number {
  return shape[0] * shape[1] * shape[2];
}

/**
 * The wire bytes of `voxels` on the grid `grid`; the checksum is computed here. Only the box
 * around the non-zero voxels is compressed (compression 2): a nodule labelmap is nearly all
 * background, and gzipping 35 MB of it took longer than the rest of a save put together.
 */
export async function encodeLabelmap(voxels: Voxels, grid: GridHeader): Promise<Uint8Array> {
  checkVoxels(voxels, grid.shape);
  if (grid.direction.length !== 9) throw new InvalidLabelmap("direction must hold 9 numbers");
  const box = nonZeroBox(voxels, grid.shape);
  const inside = cropToBox(voxels, grid.shape, box);
  // The digest (of the voxels in the box) runs off the main thread while they are compressed.
  const [sha256, body] = await Promise.all([sha256Hex(inside), gzip(inside)]);
  // Same key order as the Python encoder (dataclass field order, then sha256 and box).
  const fields = {
    shape: [...grid.shape],
    spacing: [...grid.spacing],
    origin: [...grid.origin],
    direction: [...grid.direction],
    series: grid.series,
    sha256,
    box: [...box],
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(fields));
  const out = new Uint8Array(PREFIX_BYTES + headerBytes.length + body.length);
  out.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(out.buffer);
  view.setUint8(4, VERSION);
  view.setUint8(5, GZIP_BOX);
  view.setUint32(6, headerBytes.length, true);
  out.set(headerBytes, PREFIX_BYTES);
  out.set(body, PREFIX_BYTES + headerBytes.length);
  return out;
}

/** The smallest box holding every non-zero voxel (EMPTY_BOX when there is none). */
export function nonZeroBox(voxels: Voxels, shape: Triple): Box {
  const [slices, rows, columns] = shape;
  const slice = sliceOf(voxels, rows * columns);
  // [y0, x0, y1, x1] over all slices so far.
  const extent = [rows, columns, 0, 0];
  let [z0, z1] = [slices, 0];
  for (let z = 0; z < slices; z++) {
    if (!addNonZero(slice(z), columns, extent)) continue;
    z0 = Math.min(z0, z);
    z1 = z + 1;
  }
  const [y0, x0, y1, x1] = extent as [number, number, number, number];
  return z1 === 0 ? EMPTY_BOX : [z0, y0, x0, z1, y1, x1];
}

/**
 * Widen `extent` ([y0, x0, y1, x1]) to the non-zero voxels of one slice; whether it has any.
 * A row is tested four voxels at a time (a nodule labelmap is nearly all zeros); only a row
 * with labels is searched, from both ends, for its first and last.
 */
function addNonZero(plane: Uint8Array, columns: number, extent: number[]): boolean {
  const rows = Math.floor(plane.length / columns);
  const words = plane.byteOffset % 4 === 0 && columns % 4 === 0 ? new Uint32Array(plane.buffer, plane.byteOffset, plane.length >> 2) : null;
  const wordsPerRow = columns >> 2;
  let found = false;
  for (let y = 0; y < rows; y++) {
    const row = y * columns;
    let labelled = false;
    if (words) {
      for (let w = y * wordsPerRow, end = w + wordsPerRow; w < end; w++) {
        if (words[w] !== 0) {
          labelled = true;
          break;
        }
      }
    } else {
      for (let k = row, end = row + columns; k < end; k++) {
        if (plane[k] !== 0) {
          labelled = true;
          break;
        }
      }
    }
    if (!labelled) continue;
    found = true;
    let first = 0;
    while (plane[row + first] === 0) first++;
    let last = columns - 1;
    while (plane[row + last] === 0) last--;
    if (y < (extent[0] as number)) extent[0] = y;
    if (first < (extent[1] as number)) extent[1] = first;
    if (y + 1 > (extent[2] as number)) extent[2] = y + 1;
    if (last + 1 > (extent[3] as number)) extent[3] = last + 1;
  }
  return found;
}

/** The voxels inside `box`, C order (a view when the box spans whole slices of one array). */
export function cropToBox(voxels: Voxels, shape: Triple, box: Box): Uint8Array {
  const [, rows, columns] = shape;
  const [z0, y0, x0, z1, y1, x1] = box;
  if (voxels instanceof Uint8Array && y0 === 0 && x0 === 0 && y1 === rows && x1 === columns) {
    return voxels.subarray(z0 * rows * columns, z1 * rows * columns);
  }
  const slice = sliceOf(voxels, rows * columns);
  const width = x1 - x0;
  const out = new Uint8Array((z1 - z0) * (y1 - y0) * width);
  let at = 0;
  for (let z = z0; z < z1; z++) {
    const plane = slice(z);
    for (let y = y0; y < y1; y++) {
      out.set(plane.subarray(y * columns + x0, y * columns + x1), at);
      at += width;
    }
  }
  return out;
}

/** The full grid of `shape` with `inside` (the voxels of `box`, C order) put back in place. */
export function expandBox(inside: Uint8Array, shape: Triple, box: Box): Uint8Array {
  const [, rows, columns] = shape;
  const [z0, y0, x0, z1, y1, x1] = box;
  const voxels = new Uint8Array(voxelCount(shape));
  const width = x1 - x0;
  let at = 0;
  for (let z = z0; z < z1; z++) {
    for (let y = y0; y < y1; y++) {
      voxels.set(inside.subarray(at, at + width), (z * rows + y) * columns + x0);
      at += width;
    }
  }
  return voxels;
}

/**
 * Parse and check the header only (no decompression). `box` is where the body's voxels go for
 * compression 2, null when the body holds every voxel (compression 1).
 */
export function readHeader(payload: Uint8Array): { header: LabelmapHeader; box: Box | null; bodyOffset: number } {
  if (payload.length < PREFIX_BYTES || new TextDecoder().decode(payload.subarray(0, 4)) !== MAGIC) {
    throw new InvalidLabelmap("not a labelmap: the payload does not start with NFLM");
  }
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const version = view.getUint8(4);
  const compression = view.getUint8(5);
  const length = view.getUint32(6, true);
  if (version !== VERSION) {
    throw new InvalidLabelmap(`labelmap version ${version} is not supported (expected ${VERSION})`);
  }
  if (compression !== GZIP && compression !== GZIP_BOX) {
    throw new InvalidLabelmap(
      `labelmap compression ${compression} is not supported (1 = gzip, 2 = gzip of the non-zero box)`,
    );
  }
  if (length > MAX_HEADER_BYTES || PREFIX_BYTES + length > payload.length) {
    throw new InvalidLabelmap("labelmap header length is out of range");
  }
  let fields: unknown;
  try {
    fields = JSON.parse(new TextDecoder().decode(payload.subarray(PREFIX_BYTES, PREFIX_BYTES + length)));
  } catch (error) {
    throw new InvalidLabelmap(`labelmap header is malformed (${String(error)})`);
  }
  const header = parseHeaderFields(fields);
  const box = compression === GZIP_BOX ? parseBox(fields as Record<string, unknown>, header.shape) : null;
  return { header, box, bodyOffset: PREFIX_BYTES + length };
}

function parseBox(record: Record<string, unknown>, shape: Triple): Box {
  const value = record["box"];
  if (!Array.isArray(value) || value.length !== 6 || !value.every((v) => Number.isInteger(v))) {
    throw new InvalidLabelmap("labelmap header is malformed (box: expected 6 integers)");
  }
  const [z0, y0, x0, z1, y1, x1] = value as number[];
  const fits = [
    [z0, z1, shape[0]],
    [y0, y1, shape[1]],
    [x0, x1, shape[2]],
  ].every(([start = 0, end = 0, size = 0]) => start >= 0 && start <= end && end <= size);
  if (!fits) throw new InvalidLabelmap(`labelmap box [${value.join(",")}] does not fit the shape [${shape.join(",")}]`);
  return [z0 ?? 0, y0 ?? 0, x0 ?? 0, z1 ?? 0, y1 ?? 0, x1 ?? 0];
}

/** Decode and verify a payload; the inflated size is bounded by its shape. */
export async function decodeLabelmap(
  payload: Uint8Array,
  { maxVoxels = 1024 ** 3 }: { maxVoxels?: number } = {},
): Promise<Labelmap> {
  const { header, box, bodyOffset } = readHeader(payload);
  const count = voxelCount(header.shape);
  if (count > maxVoxels) {
    throw new InvalidLabelmap(`labelmap has ${count} voxels, over ${maxVoxels}`);
  }
  const [z0, y0, x0, z1, y1, x1] = box ?? [0, 0, 0, ...header.shape];
  const inBody = (z1 - z0) * (y1 - y0) * (x1 - x0);
  const extent = box === null ? "shape" : "box";
  let body: Uint8Array;
  try {
    body = await gunzip(payload.subarray(bodyOffset), inBody, extent);
  } catch (error) {
    if (error instanceof InvalidLabelmap) throw error;
    throw new InvalidLabelmap("labelmap voxels are not valid gzip data");
  }
  if (body.length !== inBody) {
    throw new InvalidLabelmap(`labelmap voxels inflate to ${body.length} bytes, not the ${inBody} of its ${extent}`);
  }
  if ((await sha256Hex(body)) !== header.sha256) {
    throw new InvalidLabelmap("labelmap checksum does not match its voxels");
  }
  const voxels = box === null ? body : expandBox(body, header.shape, box);
  return { header, voxels };
}

function parseHeaderFields(fields: unknown): LabelmapHeader {
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
    throw new InvalidLabelmap("labelmap header is malformed (not an object)");
  }
  const record = fields as Record<string, unknown>;
  const shape = numbers(record, "shape", 3);
  if (!shape.every((n) => Number.isInteger(n) && n > 0)) {
    throw new InvalidLabelmap("labelmap shape must be positive integers");
  }
  const series = record["series"];
  const sha256 = record["sha256"];
  if (typeof series !== "string" || typeof sha256 !== "string") {
    throw new InvalidLabelmap("labelmap header is malformed (series and sha256 must be strings)");
  }
  return {
    shape: triple(shape),
    spacing: triple(numbers(record, "spacing", 3)),
    origin: triple(numbers(record, "origin", 3)),
    direction: numbers(record, "direction", 9),
    series,
    sha256,
  };
}

function numbers(record: Record<string, unknown>, key: string, count: number): number[] {
  const value = record[key];
  if (
    !Array.isArray(value) ||
    value.length !== count ||
    !value.every((v): v is number => typeof v === "number" && Number.isFinite(v))
  ) {
    throw new InvalidLabelmap(`labelmap header is malformed (${key}: expected ${count} numbers)`);
  }
  return value;
}

function triple(values: readonly number[]): Triple {
  const [a = 0, b = 0, c = 0] = values;
  return [a, b, c];
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Inflate gzip data, refusing to grow past `limit` bytes (a gzip bomb stops early). */
export async function gunzip(bytes: Uint8Array, limit: number, extent = "shape"): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("gzip"));
  const reader = stream.getReader();
  const out = new Uint8Array(limit);
  let filled = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (filled + value.length > limit) {
      await reader.cancel();
      throw new InvalidLabelmap(`labelmap voxels inflate to more than the ${limit} bytes of its ${extent}`);
    }
    out.set(value, filled);
    filled += value.length;
  }
  return filled === limit ? out : out.slice(0, filled);
}
