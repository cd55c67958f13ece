// A series as our DICOMweb describes it: WADO-RS metadata (DICOM JSON) first, then one imageId
// per frame, in wire order (ascending along the slice normal) wherever positions allow.

import type { Vec3 } from "../segmentation/voxelOrder";
import { wireToSourceSlices } from "../segmentation/voxelOrder";

/** One DICOM JSON dataset (PS3.18 F.2): tag -> {vr, Value}. */
export type DicomJson = Record<string, { vr?: string; Value?: unknown[] } | undefined>;

export interface Frame {
  readonly imageId: string;
  readonly sopInstanceUid: string;
  readonly instanceNumber: number;
  readonly position: Vec3 | null;
  readonly orientation: readonly number[] | null;
  readonly rows: number;
  readonly columns: number;
  readonly pixelSpacing: readonly [number, number] | null;
  readonly metadata: DicomJson;
}

export interface SeriesFrames {
  /** Frames in wire order when every frame has a position, else by instance number. */
  readonly frames: readonly Frame[];
  /** True when all frames share size, orientation and spacing and have a position. */
  readonly uniform: boolean;
  readonly problem: string;
}

const TAG = {
  sopInstanceUid: "00080018",
  instanceNumber: "00200013",
  position: "00200032",
  orientation: "00200037",
  rows: "00280010",
  columns: "00280011",
  pixelSpacing: "00280030",
  numberOfFrames: "00280008",
} as const;

function values(dataset: DicomJson, tag: string): unknown[] {
  return dataset[tag]?.Value ?? [];
}

function numbers(dataset: DicomJson, tag: string): number[] {
  return values(dataset, tag).map((v) => (typeof v === "number" ? v : Number(v)));
}

function first(dataset: DicomJson, tag: string): number {
  return numbers(dataset, tag)[0] ?? Number.NaN;
}

/** A tag's first value as it is in the DICOM JSON (undefined when there is none). */
export function firstValue(dataset: DicomJson, tag: string): unknown {
  return values(dataset, tag)[0];
}

/** A tag's first value as a finite number; null when it is missing, empty or not a number. */
export function numberOf(dataset: DicomJson, tag: string): number | null {
  const raw = firstValue(dataset, tag);
  if (raw === undefined || raw === null || raw === "") return null;
  const parsed = typeof raw === "number" ? raw : Number(raw);
  return Number.isFinite(parsed) ? parsed : null;
}

/** WADO-RS base (absolute, as the image loader fetches it) for one series. */
export function seriesUrl(dicomwebRoot: string, study: string, series: string, origin: string): string {
  const root = new URL(dicomwebRoot.replace(/\/+$/, ""), origin).toString();
  return `${root}/studies/${study}/series/${series}`;
}

export function framesFromMetadata(instances: readonly DicomJson[], seriesBase: string): SeriesFrames {
  const frames: Frame[] = [];
  for (const dataset of instances) {
    const sop = String(values(dataset, TAG.sopInstanceUid)[0] ?? "");
    if (!sop) continue;
    const count = Math.max(1, first(dataset, TAG.numberOfFrames) || 1);
    const position = numbers(dataset, TAG.position);
    const orientation = numbers(dataset, TAG.orientation);
    const spacing = numbers(dataset, TAG.pixelSpacing);
    for (let frame = 1; frame <= count; frame++) {
      frames.push({
        imageId: `wadors:${seriesBase}/instances/${sop}/frames/${frame}`,
        sopInstanceUid: sop,
        instanceNumber: first(dataset, TAG.instanceNumber) || 0,
        position: count === 1 && position.length === 3 && position.every(Number.isFinite) ? (position as unknown as Vec3) : null,
        orientation: orientation.length === 6 && orientation.every(Number.isFinite) ? orientation : null,
        rows: first(dataset, TAG.rows),
        columns: first(dataset, TAG.columns),
        pixelSpacing: spacing.length === 2 ? [spacing[0] ?? 1, spacing[1] ?? 1] : null,
        metadata: dataset,
      });
    }
  }
  if (frames.length === 0) return { frames, uniform: false, problem: "the series has no images" };
  const problem = uniformityProblem(frames);
  const reference = frames[0];
  if (problem === "" && reference?.orientation) {
    const map = wireToSourceSlices(frames.map((f) => f.position ?? [0, 0, 0]), reference.orientation);
    return { frames: Array.from(map, (i) => frames[i] as Frame), uniform: true, problem };
  }
  const sorted = [...frames].sort((a, b) => a.instanceNumber - b.instanceNumber);
  return { frames: sorted, uniform: false, problem };
}

function uniformityProblem(frames: readonly Frame[]): string {
  const reference = frames[0];
  if (!reference) return "the series has no images";
  if (frames.some((f) => f.position === null || f.orientation === null)) {
    return "some images lack a position or orientation";
  }
  if (frames.some((f) => f.rows !== reference.rows || f.columns !== reference.columns)) {
    return "images have different sizes";
  }
  const close = (a: readonly number[] | null, b: readonly number[] | null, tolerance: number): boolean =>
    a !== null && b !== null && a.length === b.length && a.every((v, i) => Math.abs(v - (b[i] ?? Number.NaN)) <= tolerance);
  if (frames.some((f) => !close(f.orientation, reference.orientation, 1e-3))) {
    return "images have different orientations";
  }
  if (frames.some((f) => !close(f.pixelSpacing, reference.pixelSpacing, 1e-4))) {
    return "images have different pixel spacings";
  }
  return "";
}
