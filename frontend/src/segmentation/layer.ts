// A read-only labelmap drawn over the task's own (the model's pre-annotation, the diff with it,
// the uncertainty heat map): a second Cornerstone segmentation on the task's grid, filled from
// wire-order voxels. It is never the active segmentation, so the editing tools keep acting on
// the task labelmap (SEGMENTATION_ID).

import { cache, imageLoader, metaData, volumeLoader, type Types } from "@cornerstonejs/core";
import { Enums as ToolEnums, segmentation } from "@cornerstonejs/tools";

import { derivedLabelmapData, SEGMENTATION_ID } from "./labelmap";
import { fromWireOrder, wireToSourceSlices, type Vec3 } from "./voxelOrder";

const LABELMAP = ToolEnums.SegmentationRepresentations.Labelmap;

/** What the layer's grid derives from: the task's volume (shown on stack and volume viewports), or its stack of images. */
export type LayerSource = { readonly volumeId: string } | { readonly imageIds: readonly string[] };

export interface LayerStyle {
  readonly fill: boolean;
  readonly fillAlpha: number;
  readonly outline: boolean;
  readonly outlineWidth?: number;
}

function positionOf(imageId: string): Vec3 {
  const plane = metaData.get("imagePlaneModule", imageId) as { imagePositionPatient?: number[] } | undefined;
  const p = plane?.imagePositionPatient ?? [0, 0, 0];
  return [p[0] ?? 0, p[1] ?? 0, p[2] ?? 0];
}

export class LabelmapLayer {
  private readonly writeVoxels: (wire: Uint8Array) => void;
  private shownOn: string[] = [];

  /** Build the segmentation `segmentationId` and fill it with `voxels` (wire order); nothing is shown yet. */
  constructor(
    readonly segmentationId: string,
    source: LayerSource,
    orientation: readonly number[],
    voxels: Uint8Array,
    private readonly lut: Types.ColorLUT,
    style: LayerStyle,
  ) {
    if (segmentation.state.getSegmentation(segmentationId)) segmentation.removeSegmentation(segmentationId);
    if ("volumeId" in source) {
      const volume = cache.getVolume(source.volumeId);
      if (!volume) throw new Error(`volume ${source.volumeId} is not loaded`);
      const id = `${source.volumeId}-${segmentationId}`;
      const derived = cache.getVolume(id) ?? volumeLoader.createAndCacheDerivedLabelmapVolume(source.volumeId, { volumeId: id });
      const [columns, rows] = derived.dimensions;
      const map = wireToSourceSlices(volume.imageIds.map(positionOf), orientation);
      const scalars = derived.voxelManager as Types.IVoxelManager<number>;
      this.writeVoxels = (wire) => {
        if (!scalars.setCompleteScalarDataArray) throw new Error(`the ${segmentationId} volume cannot be written`);
        scalars.setCompleteScalarDataArray(fromWireOrder(wire, rows * columns, map));
      };
      this.writeVoxels(voxels);
      segmentation.addSegmentations([{ segmentationId, representation: { type: LABELMAP, data: derivedLabelmapData(volume, derived) } }]);
    } else {
      const images = imageLoader.createAndCacheDerivedLabelmapImages([...source.imageIds]);
      const first = images[0];
      const sliceSize = first ? first.rows * first.columns : 0;
      const map = wireToSourceSlices(source.imageIds.map(positionOf), orientation);
      this.writeVoxels = (wire) => {
        const viewer = fromWireOrder(wire, sliceSize, map);
        images.forEach((image, k) => {
          const data = image.voxelManager?.getScalarData();
          if (!(data instanceof Uint8Array)) throw new Error(`the ${segmentationId} images are not uint8`);
          data.set(viewer.subarray(k * sliceSize, (k + 1) * sliceSize));
          image.voxelManager?.modifiedSlices.add(0);
        });
      };
      this.writeVoxels(voxels);
      segmentation.addSegmentations([
        { segmentationId, representation: { type: LABELMAP, data: { imageIds: images.map((image) => image.imageId) } } },
      ]);
    }
    // Its own style, over the global one the opacity slider and outline toggle set.
    segmentation.config.style.setStyle(
      { type: LABELMAP, segmentationId },
      {
        renderFill: style.fill,
        renderFillInactive: style.fill,
        renderOutline: style.outline,
        renderOutlineInactive: style.outline,
        fillAlpha: style.fillAlpha,
        fillAlphaInactive: style.fillAlpha,
        outlineWidth: style.outlineWidth ?? 1,
        outlineWidthInactive: style.outlineWidth ?? 1,
        outlineOpacity: 1,
        outlineOpacityInactive: 1,
      },
    );
  }

  get isShown(): boolean {
    return this.shownOn.length > 0;
  }

  /** Replace the voxels (wire order) and redraw. */
  update(voxels: Uint8Array): void {
    this.writeVoxels(voxels);
    segmentation.triggerSegmentationEvents.triggerSegmentationDataModified(this.segmentationId);
  }

  /** Put the layer on these viewports (call after the task labelmap is shown on them). */
  show(viewportIds: readonly string[]): void {
    this.hide();
    const map: Record<string, Array<{ segmentationId: string; config: { colorLUTOrIndex: Types.ColorLUT } }>> = {};
    for (const id of viewportIds) map[id] = [{ segmentationId: this.segmentationId, config: { colorLUTOrIndex: this.lut } }];
    segmentation.addLabelmapRepresentationToViewportMap(map);
    for (const id of viewportIds) {
      // Cornerstone draws only the active segmentation unless told otherwise, and makes the one
      // just added active: hand that back to the task labelmap, which the tools edit.
      segmentation.config.style.setRenderInactiveSegmentations(id, true);
      if (segmentation.state.getSegmentation(SEGMENTATION_ID)) segmentation.activeSegmentation.setActiveSegmentation(id, SEGMENTATION_ID);
    }
    this.shownOn = [...viewportIds];
  }

  /** Take the layer off the viewports it is on (call before the layout's viewports go). */
  hide(): void {
    for (const id of this.shownOn) segmentation.removeSegmentationRepresentations(id, { segmentationId: this.segmentationId });
    this.shownOn = [];
  }
}

/** A colour table: index 0 transparent, then one RGBA per segment index. */
export function layerLut(colours: readonly (readonly [number, number, number, number])[]): Types.ColorLUT {
  return [[0, 0, 0, 0], ...colours.map((c) => [...c] as Types.Color)];
}
