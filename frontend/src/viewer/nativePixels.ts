// Uncompressed grayscale frames decoded where their bytes arrive: in the frame fetch worker,
// while the page's main thread is still starting Cornerstone. The DICOM image loader would
// otherwise copy each frame to its decode worker and back (structured clones both ways) only
// to reinterpret the bytes, find the range and apply the modality LUT: on a 2-core machine its
// worker and the main thread's share of that were ~400 ms of CPU for a 140-slice CT.
//
// What comes out is what the loader's own worker makes of such a frame for a volume
// (decodeImageFrameWorker.postProcessDecodedPixels): stored values (sign-extended from
// BitsStored when signed), times RescaleSlope plus RescaleIntercept, in the typed array the
// streaming volume asks for (Int16 when signed or the rescale goes negative, else Uint16; Uint8
// for 8 bits). A frame outside that (compressed, colour, a fractional rescale, PET or dose
// scaling, values that do not fit) is left to the loader, byte for byte.

import { firstValue, numberOf, type DicomJson } from "./series";

export const NATIVE_SYNTAXES: ReadonlySet<string> = new Set(["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"]);

export type PixelType = "Int16Array" | "Uint16Array" | "Uint8Array";

/** What decoding one frame needs, read from its instance's metadata. */
export interface PixelSpec {
  readonly rows: number;
  readonly columns: number;
  readonly bitsAllocated: 8 | 16;
  readonly bitsStored: number;
  readonly signed: boolean;
  /** Null: no rescale given (values are sent as stored, not marked as scaled). */
  readonly slope: number | null;
  readonly intercept: number | null;
  readonly type: PixelType;
}

export interface DecodedFrame {
  readonly pixels: Int16Array | Uint16Array | Uint8Array;
  readonly type: PixelType;
  /** The range of `pixels` (after the rescale). */
  readonly min: number;
  readonly max: number;
  /** Whether the modality LUT was applied (the image's preScale.scaled). */
  readonly scaled: boolean;
  readonly slope: number | null;
  readonly intercept: number | null;
}

const TAG = {
  modality: "00080060",
  samplesPerPixel: "00280002",
  photometric: "00280004",
  rows: "00280010",
  columns: "00280011",
  bitsAllocated: "00280100",
  bitsStored: "00280101",
  pixelRepresentation: "00280103",
  intercept: "00281052",
  slope: "00281053",
} as const;

const RANGE: Record<PixelType, readonly [number, number]> = {
  Int16Array: [-32768, 32767],
  Uint16Array: [0, 65535],
  Uint8Array: [0, 255],
};

/**
 * The spec of each instance's frames, or null for the whole series when any instance is not a
 * native grayscale image with an integer rescale: one series, one pixel type, as the volume has.
 */
export function seriesPixelSpecs(instances: readonly DicomJson[]): Map<DicomJson, PixelSpec> | null {
  const specs = new Map<DicomJson, Omit<PixelSpec, "type">>();
  let negative = false;
  for (const dataset of instances) {
    const modality = String(firstValue(dataset, TAG.modality) ?? "");
    const photometric = String(firstValue(dataset, TAG.photometric) ?? "");
    const bitsAllocated = numberOf(dataset, TAG.bitsAllocated);
    const rows = numberOf(dataset, TAG.rows);
    const columns = numberOf(dataset, TAG.columns);
    const slope = numberOf(dataset, TAG.slope);
    const intercept = numberOf(dataset, TAG.intercept);
    if (modality === "PT" || modality === "RTDOSE") return null;
    if ((numberOf(dataset, TAG.samplesPerPixel) ?? 1) !== 1 || !/^MONOCHROME[12]$/.test(photometric)) return null;
    if ((bitsAllocated !== 8 && bitsAllocated !== 16) || !rows || !columns) return null;
    if ((slope === null) !== (intercept === null)) return null;
    if (slope !== null && intercept !== null && !(Number.isInteger(slope) && Number.isInteger(intercept))) return null;
    const signed = numberOf(dataset, TAG.pixelRepresentation) === 1;
    negative ||= signed || (slope ?? 1) < 0 || (intercept ?? 0) < 0;
    specs.set(dataset, { rows, columns, bitsAllocated, bitsStored: numberOf(dataset, TAG.bitsStored) ?? bitsAllocated, signed, slope, intercept });
  }
  const eight = [...specs.values()].every((s) => s.bitsAllocated === 8);
  const sixteen = [...specs.values()].every((s) => s.bitsAllocated === 16);
  if (!eight && !sixteen) return null;
  const type: PixelType = eight ? "Uint8Array" : negative ? "Int16Array" : "Uint16Array";
  return new Map([...specs].map(([dataset, spec]) => [dataset, { ...spec, type }]));
}

/** Decode one native little-endian frame; null when its bytes or values do not fit `spec`. */
export function decodeNative(bytes: Uint8Array, spec: PixelSpec): DecodedFrame | null {
  const count = spec.rows * spec.columns;
  if (count === 0 || bytes.length !== (count * spec.bitsAllocated) / 8) return null;
  const stored = storedValues(bytes, spec, count);
  const pixels = spec.type === "Int16Array" ? new Int16Array(count) : spec.type === "Uint16Array" ? new Uint16Array(count) : new Uint8Array(count);
  const slope = spec.slope ?? 1;
  const intercept = spec.intercept ?? 0;
  // One pass: rescale into `pixels` and find the stored range (a typed array wraps what does
  // not fit, so the range decides afterwards whether the frame is kept).
  const shift = spec.signed && spec.bitsStored < 16 ? 32 - spec.bitsStored : 0;
  const [storedMin, storedMax] = shift ? rescaleSignExtended(stored, pixels, slope, intercept, shift) : rescale(stored, pixels, slope, intercept);
  const ends = [storedMin * slope + intercept, storedMax * slope + intercept];
  const min = Math.min(...ends);
  const max = Math.max(...ends);
  const [lowest, highest] = RANGE[spec.type];
  if (min < lowest || max > highest) return null;
  return { pixels, type: spec.type, min, max, scaled: spec.slope !== null && spec.intercept !== null, slope: spec.slope, intercept: spec.intercept };
}

type Samples = Int16Array | Uint16Array | Uint8Array;

function rescale(stored: Samples, pixels: Samples, slope: number, intercept: number): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < stored.length; i++) {
    const v = stored[i] as number;
    if (v < min) min = v;
    if (v > max) max = v;
    pixels[i] = v * slope + intercept;
  }
  return [min, max];
}

function rescaleSignExtended(stored: Samples, pixels: Samples, slope: number, intercept: number, shift: number): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < stored.length; i++) {
    const v = ((stored[i] as number) << shift) >> shift;
    if (v < min) min = v;
    if (v > max) max = v;
    pixels[i] = v * slope + intercept;
  }
  return [min, max];
}

/** The frame's samples as stored (a view where alignment allows, else a copy). */
function storedValues(bytes: Uint8Array, spec: PixelSpec, count: number): Samples {
  if (spec.bitsAllocated === 8) return bytes;
  const aligned = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
  return spec.signed ? new Int16Array(aligned.buffer, aligned.byteOffset, count) : new Uint16Array(aligned.buffer, aligned.byteOffset, count);
}
