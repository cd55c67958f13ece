// The first look: the middle slice of the series, drawn by the entry module (from the frames it
// prefetches) while
// Cornerstone (most of the bundle) is still being fetched and compiled, and the volume is still
// being built. It covers the axial viewport until that viewport has drawn the same slice, then
// goes. Only uncompressed little-endian frames of an axial series are drawn here (a CT's usual
// storage); anything else waits for Cornerstone.

import { framePart, type FramePart } from "./framePart";
import { frameUrl, type FramePrefetch } from "./framePrefetch";
import { LUNG, voiRange, type WindowPreset } from "./presets";
import { NATIVE_SYNTAXES } from "./nativePixels";
import { numberOf, type Frame } from "./series";

const AXIAL = [1, 0, 0, 0, 1, 0];

export interface PreviewImage {
  readonly rows: number;
  readonly columns: number;
  /** Modality values (HU for CT), row by row. */
  readonly values: Float32Array;
  /** Row and column spacing in mm. */
  readonly spacing: readonly [number, number];
  readonly monochrome1: boolean;
}

/** The frame an axial view opens on, when it can be drawn here; null otherwise. */
export function previewFrame(frames: readonly Frame[]): Frame | null {
  const frame = frames[Math.round((frames.length - 1) / 2)];
  if (!frame?.orientation || !frame.orientation.every((v, i) => Math.abs(v - (AXIAL[i] ?? 0)) < 1e-3)) return null;
  const bits = numberOf(frame.metadata, "00280100") ?? 0;
  const samples = numberOf(frame.metadata, "00280002") ?? 1;
  return bits === 16 && samples === 1 ? frame : null;
}

/**
 * The pixels of a frame's part, or null when it is not uncompressed little-endian or its size
 * does not match the frame.
 */
export function decodeFrame(part: FramePart, frame: Frame): PreviewImage | null {
  const { rows, columns, metadata } = frame;
  if (!NATIVE_SYNTAXES.has(part.transferSyntax)) return null;
  const count = rows * columns;
  const bytes = part.pixelData;
  if (!(count > 0) || bytes.length !== 2 * count) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, 2 * count);
  const signed = (numberOf(metadata, "00280103") ?? 0) === 1;
  const slope = numberOf(metadata, "00281053") ?? 1;
  const intercept = numberOf(metadata, "00281052") ?? 0;
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const stored = signed ? view.getInt16(2 * i, true) : view.getUint16(2 * i, true);
    values[i] = stored * slope + intercept;
  }
  const photometric = String(metadata["00280004"]?.Value?.[0] ?? "MONOCHROME2");
  return { rows, columns, values, spacing: frame.pixelSpacing ?? [1, 1], monochrome1: photometric === "MONOCHROME1" };
}

/** Grey levels of `image` through the window `preset`, as RGBA. */
export function windowed(image: PreviewImage, preset: WindowPreset): Uint8ClampedArray<ArrayBuffer> {
  const { lower, upper } = voiRange(preset);
  const scale = 255 / Math.max(1e-6, upper - lower);
  const out = new Uint8ClampedArray(image.values.length * 4);
  for (let i = 0; i < image.values.length; i++) {
    const grey = ((image.values[i] ?? lower) - lower) * scale;
    const v = image.monochrome1 ? 255 - grey : grey;
    out[4 * i] = out[4 * i + 1] = out[4 * i + 2] = v;
    out[4 * i + 3] = 255;
  }
  return out;
}

/** A canvas showing one slice, fitted into whatever holds it (as Cornerstone fits a slice). */
export class Preview {
  readonly element = document.createElement("canvas");
  private readonly source = document.createElement("canvas");

  constructor(private readonly image: PreviewImage, preset: WindowPreset = LUNG) {
    this.element.className = "nf-preview";
    this.element.setAttribute("aria-hidden", "true");
    this.source.width = image.columns;
    this.source.height = image.rows;
    this.source.getContext("2d")?.putImageData(new ImageData(windowed(image, preset), image.columns, image.rows), 0, 0);
  }

  /** Redraw at the size the canvas has now (call after moving it). */
  fit(): void {
    const box = this.element.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(box.width * ratio));
    const height = Math.max(1, Math.round(box.height * ratio));
    this.element.width = width;
    this.element.height = height;
    const context = this.element.getContext("2d");
    if (!context) return;
    context.fillStyle = "#000";
    context.fillRect(0, 0, width, height);
    const [rowSpacing, columnSpacing] = this.image.spacing;
    const mmWide = this.image.columns * columnSpacing;
    const mmHigh = this.image.rows * rowSpacing;
    const scale = Math.min(width / mmWide, height / mmHigh);
    const w = mmWide * scale;
    const h = mmHigh * scale;
    context.imageSmoothingEnabled = true;
    context.drawImage(this.source, (width - w) / 2, (height - h) / 2, w, h);
  }

  remove(): void {
    this.element.remove();
  }
}

/** Decode the frame to preview from its prefetched body (left for Cornerstone); null when there is none to draw here. */
export async function loadPreview(frame: Frame | null, frames: FramePrefetch): Promise<Preview | null> {
  if (!frame) return null;
  const body = await frames.peek(frameUrl(frame.imageId));
  const part = body && framePart(body.contentType, body.bytes);
  const image = part ? decodeFrame(part, frame) : null;
  return image ? new Preview(image) : null;
}
