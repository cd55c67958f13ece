// The task's labelmap inside Cornerstone: one segmentation, volume-backed (axial and MPR
// layouts: the axial view of an axial series is a stack viewport, the MPR views are volume
// viewports, and both show the same voxels) or image-backed (stack mode). Cornerstone owns the
// voxels; this module reads and writes them in wire order and sets colours, style and
// visibility from the project schema.

import { cache, imageLoader, metaData, utilities as csUtils, volumeLoader, type Types } from "@cornerstonejs/core";
import { Enums as ToolEnums, segmentation } from "@cornerstonejs/tools";

import type { SegmentSchema } from "../api/types";
import { fromWireOrder, ownedInWireOrder, wireToSourceSlices, type Vec3 } from "./voxelOrder";

const LABELMAP = ToolEnums.SegmentationRepresentations.Labelmap;
export const SEGMENTATION_ID = "noduleflow-labelmap";

export interface LabelmapStore {
  readonly segmentationId: string;
  /** Voxels in wire order (slice, row, column), a copy. */
  read(): Uint8Array;
  /**
   * Each slice's voxels in wire order: Cornerstone's own per-slice arrays, no copy (assembling
   * a CT's 36 MB took a fifth of a save). Read them before the next edit; never write to them.
   */
  readSlices(): Uint8Array[];
  /** Replace all voxels from wire order and tell Cornerstone to redraw. */
  write(wire: Uint8Array): void;
  readonly sliceSize: number;
  readonly slices: number;
}

function positionOf(imageId: string): Vec3 {
  const plane = metaData.get("imagePlaneModule", imageId) as { imagePositionPatient?: number[] } | undefined;
  const p = plane?.imagePositionPatient ?? [0, 0, 0];
  return [p[0] ?? 0, p[1] ?? 0, p[2] ?? 0];
}

/**
 * The labelmap data of a segmentation derived from `volume`: the derived volume for volume
 * viewports and, for stack viewports over the volume's images, the per-slice images that back
 * it (Cornerstone holds a derived volume's voxels in one image per slice, so an edit on either
 * side is in the other, one set of voxels).
 */
export function derivedLabelmapData(volume: Types.IImageVolume, labelmap: Types.IImageVolume): DerivedLabelmapData {
  return {
    volumeId: labelmap.volumeId,
    referencedVolumeId: volume.volumeId,
    imageIds: [...labelmap.imageIds],
    referencedImageIds: [...volume.imageIds],
  };
}

interface DerivedLabelmapData {
  volumeId: string;
  referencedVolumeId: string;
  imageIds: string[];
  referencedImageIds: string[];
}

/** The segmentation of a volume: a derived uint8 volume on the same grid, shown on stack and volume viewports. */
export function volumeLabelmap(volumeId: string, orientation: readonly number[]): LabelmapStore {
  const source = cache.getVolume(volumeId);
  if (!source) throw new Error(`volume ${volumeId} is not loaded`);
  const labelmapId = `${volumeId}-labelmap`;
  const labelmap = cache.getVolume(labelmapId) ?? volumeLoader.createAndCacheDerivedLabelmapVolume(volumeId, { volumeId: labelmapId });
  const [columns, rows, slices] = labelmap.dimensions;
  const sliceSize = rows * columns;
  // Cornerstone sorts the volume's images itself: map its order to ours, never assume it.
  const map = wireToSourceSlices(source.imageIds.map(positionOf), orientation);
  segmentation.addSegmentations([
    { segmentationId: SEGMENTATION_ID, representation: { type: LABELMAP, data: derivedLabelmapData(source, labelmap) } },
  ]);
  const voxels = labelmap.voxelManager as Types.IVoxelManager<number>;
  return {
    segmentationId: SEGMENTATION_ID,
    sliceSize,
    slices,
    readSlices() {
      const images = labelmap.imageIds.map((id) => cache.getImage(id));
      return Array.from(map, (k) => {
        const image = images[k];
        if (!image) throw new Error("the labelmap's slices are not all in the cache");
        return uint8Of(image);
      });
    },
    read() {
      const data = voxels.getCompleteScalarDataArray?.();
      if (!data) throw new Error("the labelmap has no voxel data");
      // A new array, assembled from the per-slice images that back the derived volume: already
      // a copy, so slices in wire order need no second one (36 MB for a CT, at every save).
      return ownedInWireOrder(data instanceof Uint8Array ? data : Uint8Array.from(data), sliceSize, map);
    },
    write(wire) {
      if (!voxels.setCompleteScalarDataArray) throw new Error("the labelmap cannot be written");
      voxels.setCompleteScalarDataArray(fromWireOrder(wire, sliceSize, map));
      segmentation.triggerSegmentationEvents.triggerSegmentationDataModified(SEGMENTATION_ID);
    },
  };
}

/** A labelmap image's voxels (Cornerstone's own array). */
function uint8Of(image: Types.IImage): Uint8Array {
  const data = image.voxelManager?.getScalarData();
  if (!(data instanceof Uint8Array)) throw new Error("the labelmap images are not uint8");
  return data;
}

/** The segmentation of a stack: one derived uint8 image per source image, in stack order. */
export function stackLabelmap(imageIds: readonly string[], orientation: readonly number[]): LabelmapStore {
  const images = imageLoader.createAndCacheDerivedLabelmapImages([...imageIds]);
  const map = wireToSourceSlices(imageIds.map(positionOf), orientation);
  segmentation.addSegmentations([
    {
      segmentationId: SEGMENTATION_ID,
      representation: { type: LABELMAP, data: { imageIds: images.map((image) => image.imageId) } },
    },
  ]);
  const first = images[0];
  const sliceSize = first ? first.rows * first.columns : 0;
  return {
    segmentationId: SEGMENTATION_ID,
    sliceSize,
    slices: images.length,
    readSlices() {
      return Array.from(map, (k) => uint8Of(images[k] as Types.IImage));
    },
    read() {
      const viewer = new Uint8Array(sliceSize * images.length);
      images.forEach((image, k) => viewer.set(uint8Of(image), k * sliceSize));
      return ownedInWireOrder(viewer, sliceSize, map);
    },
    write(wire) {
      const viewer = fromWireOrder(wire, sliceSize, map);
      images.forEach((image, k) => {
        uint8Of(image).set(viewer.subarray(k * sliceSize, (k + 1) * sliceSize));
        image.voxelManager?.modifiedSlices.add(0);
      });
      segmentation.triggerSegmentationEvents.triggerSegmentationDataModified(SEGMENTATION_ID);
    },
  };
}

export function colourLut(segments: readonly SegmentSchema[]): Types.ColorLUT {
  const lut: Types.Color[] = [[0, 0, 0, 0]];
  for (const segment of segments) {
    const hex = /^#?([0-9a-f]{6})$/i.exec(segment.colour)?.[1] ?? "ff0000";
    const value = Number.parseInt(hex, 16);
    lut[segment.index] = [(value >> 16) & 255, (value >> 8) & 255, value & 255, 255];
  }
  for (let i = 0; i < lut.length; i++) lut[i] ??= [0, 0, 0, 0];
  return lut;
}

export function showOnViewports(viewportIds: readonly string[], segments: readonly SegmentSchema[]): void {
  const lut = colourLut(segments);
  const map: Record<string, Array<{ segmentationId: string; config: { colorLUTOrIndex: Types.ColorLUT } }>> = {};
  for (const id of viewportIds) map[id] = [{ segmentationId: SEGMENTATION_ID, config: { colorLUTOrIndex: lut } }];
  segmentation.addLabelmapRepresentationToViewportMap(map);
}

export function hideFromViewports(viewportIds: readonly string[]): void {
  for (const id of viewportIds) segmentation.removeSegmentationRepresentations(id, { segmentationId: SEGMENTATION_ID });
}

export interface OverlayStyle {
  readonly opacity: number; // 0..1
  readonly outlineOnly: boolean;
}

export function setOverlayStyle({ opacity, outlineOnly }: OverlayStyle): void {
  segmentation.config.style.setStyle(
    { type: LABELMAP },
    {
      renderFill: !outlineOnly,
      renderOutline: true,
      fillAlpha: opacity,
      fillAlphaInactive: opacity,
      outlineOpacity: Math.min(1, opacity + 0.4),
      outlineWidth: outlineOnly ? 2 : 1,
    },
  );
}

export function setSegmentVisible(viewportIds: readonly string[], segment: number, visible: boolean): void {
  for (const id of viewportIds) {
    segmentation.config.visibility.setSegmentIndexVisibility(id, { segmentationId: SEGMENTATION_ID, type: LABELMAP }, segment, visible);
  }
}

export function setActiveSegment(segment: number): void {
  segmentation.segmentIndex.setActiveSegmentIndex(SEGMENTATION_ID, segment);
}

export function removeLabelmap(): void {
  segmentation.removeSegmentation(SEGMENTATION_ID);
}

/** Undo/redo share Cornerstone's history, so our own edits (interpolation) join the same stack. */
export const history = csUtils.HistoryMemo.DefaultHistoryMemo;

/** Record a change of `indices` (wire order) from `before` to `after` values as one undo step. */
export function pushVoxelChange(store: LabelmapStore, indices: Int32Array, before: Uint8Array, after: Uint8Array): void {
  history.push({
    id: `nf-${Date.now()}`,
    operationType: "labelmap",
    restoreMemo(undo?: boolean) {
      const wire = store.read();
      const values = undo === true ? before : after;
      indices.forEach((index, n) => {
        wire[index] = values[n] ?? 0;
      });
      store.write(wire);
    },
  });
}
