// The labelmap wire format, version 1 (docs/labelmap-wire-format.md): the same bytes the
// Python encoder in annotations/labelmaps.py writes and the server checks on save.

export const MAGIC = "NFLM";
export const VERSION = 1;
export const GZIP = 1;
export const PREFIX_BYTES = 10;
export const MAX_HEADER_BYTES = 64 * 1024;

export type Triple = readonly [number, number, number];

export interface LabelmapHeader {
  readonly shape: Triple; // [slices, rows, columns]
  readonly spacing: Triple; // [slice, row, column] spacing in mm
  readonly origin: Triple; // ImagePositionPatient of slice 0, mm
  readonly direction: readonly number[]; // row r, column c, normal n (9 numbers)
  readonly series: string; // SeriesInstanceUID
  readonly sha256: string; // hex digest of the uncompressed voxels
}

export type GridHeader = Omit<LabelmapHeader, "sha256">;

export interface Labelmap {
  readonly header: LabelmapHeader;
  readonly voxels: Uint8Array; // shape[0]*shape[1]*shape[2], C order (slice, row, column)
}

export class InvalidLabelmap extends Error {
  override readonly name = "InvalidLabelmap";
}

export function voxelCount(shape: Triple): number {
  return shape[0] * shape[1] * shape[2];
}

/** The wire bytes of `voxels` on the grid `grid`; the checksum is computed here. */
export async function encodeLabelmap(voxels: Uint8Array, grid: GridHeader): Promise<Uint8Array> {
  if (voxels.length !== voxelCount(grid.shape)) {
    throw new InvalidLabelmap(
      `voxels must hold ${voxelCount(grid.shape)} bytes for shape ${grid.shape.join("x")}, not ${voxels.length}`,
    );
  }
  if (grid.direction.length !== 9) throw new InvalidLabelmap("direction must hold 9 numbers");
  // The digest (off the main thread in browsers) runs while the voxels are compressed.
  const [sha256, body] = await Promise.all([sha256Hex(voxels), gzip(voxels)]);
  // Same key order as the Python encoder (dataclass field order, sha256 last).
  const fields = {
    shape: [...grid.shape],
    spacing: [...grid.spacing],
    origin: [...grid.origin],
    direction: [...grid.direction],
    series: grid.series,
    sha256,
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(fields));
  const out = new Uint8Array(PREFIX_BYTES + headerBytes.length + body.length);
  out.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(out.buffer);
  view.setUint8(4, VERSION);
  view.setUint8(5, GZIP);
  view.setUint32(6, headerBytes.length, true);
  out.set(headerBytes, PREFIX_BYTES);
  out.set(body, PREFIX_BYTES + headerBytes.length);
  return out;
}

/** Parse and check the header only (no decompression). */
export function readHeader(payload: Uint8Array): { header: LabelmapHeader; bodyOffset: number } {
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
  if (compression !== GZIP) {
    throw new InvalidLabelmap(`labelmap compression ${compression} is not supported (1 = gzip)`);
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
  return { header, bodyOffset: PREFIX_BYTES + length };
}

/** Decode and verify a payload; the inflated size is bounded by its shape. */
export async function decodeLabelmap(
  payload: Uint8Array,
  { maxVoxels = 1024 ** 3 }: { maxVoxels?: number } = {},
): Promise<Labelmap> {
  const { header, bodyOffset } = readHeader(payload);
  const count = voxelCount(header.shape);
  if (count > maxVoxels) {
    throw new InvalidLabelmap(`labelmap has ${count} voxels, over ${maxVoxels}`);
  }
  let voxels: Uint8Array;
  try {
    voxels = await gunzip(payload.subarray(bodyOffset), count);
  } catch (error) {
    if (error instanceof InvalidLabelmap) throw error;
    throw new InvalidLabelmap("labelmap voxels are not valid gzip data");
  }
  if (voxels.length !== count) {
    throw new InvalidLabelmap(
      `labelmap voxels inflate to ${voxels.length} bytes, not the ${count} of its shape`,
    );
  }
  if ((await sha256Hex(voxels)) !== header.sha256) {
    throw new InvalidLabelmap("labelmap checksum does not match its voxels");
  }
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
export async function gunzip(bytes: Uint8Array, limit: number): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("gzip"));
  const reader = stream.getReader();
  const out = new Uint8Array(limit);
  let filled = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (filled + value.length > limit) {
      await reader.cancel();
      throw new InvalidLabelmap(`labelmap voxels inflate to more than the ${limit} bytes of its shape`);
    }
    out.set(value, filled);
    filled += value.length;
  }
  return filled === limit ? out : out.slice(0, filled);
}
