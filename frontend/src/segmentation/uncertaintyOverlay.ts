// The uncertainty heat overlay inside Cornerstone: a second labelmap segmentation on the task's
// grid, whose voxels are the bins of uncertainty.ts. It is never the active segmentation, so the
// editing tools keep acting on the task labelmap (SEGMENTATION_ID).

import { cache, imageLoader, metaData, volumeLoader, type Types } from "@cornerstonejs/core";
import { Enums as ToolEnums, segmentation } from "@cornerstonejs/tools";

import type { Revision } from "../api/types";
import { h } from "../ui/dom";
import { SEGMENTATION_ID } from "./labelmap";
import { binLabels, binUncertainty, fetchUncertainty, heatLut, HEAT_COLOURS, inferenceRoot } from "./uncertainty";
import { fromWireOrder, gridMismatch, wireToSourceSlices, type Vec3 } from "./voxelOrder";
import type { GridHeader } from "./wire";

const LABELMAP = ToolEnums.SegmentationRepresentations.Labelmap;
export const UNCERTAINTY_SEGMENTATION_ID = "noduleflow-uncertainty";

export type UncertaintySource = { readonly volumeId: string } | { readonly imageIds: readonly string[] };

function positionOf(imageId: string): Vec3 {
  const plane = metaData.get("imagePlaneModule", imageId) as { imagePositionPatient?: number[] } | undefined;
  const p = plane?.imagePositionPatient ?? [0, 0, 0];
  return [p[0] ?? 0, p[1] ?? 0, p[2] ?? 0];
}

/** Build the segmentation and fill it with `bins` (wire order); nothing is shown yet. */
function createSegmentation(source: UncertaintySource, orientation: readonly number[], bins: Uint8Array): void {
  if (segmentation.state.getSegmentation(UNCERTAINTY_SEGMENTATION_ID)) segmentation.removeSegmentation(UNCERTAINTY_SEGMENTATION_ID);
  if ("volumeId" in source) {
    const volume = cache.getVolume(source.volumeId);
    if (!volume) throw new Error(`volume ${source.volumeId} is not loaded`);
    const id = `${source.volumeId}-uncertainty`;
    const derived = cache.getVolume(id) ?? volumeLoader.createAndCacheDerivedLabelmapVolume(source.volumeId, { volumeId: id });
    const [columns, rows] = derived.dimensions;
    const map = wireToSourceSlices(volume.imageIds.map(positionOf), orientation);
    const voxels = derived.voxelManager as Types.IVoxelManager<number>;
    if (!voxels.setCompleteScalarDataArray) throw new Error("the uncertainty volume cannot be written");
    voxels.setCompleteScalarDataArray(fromWireOrder(bins, rows * columns, map));
    segmentation.addSegmentations([
      { segmentationId: UNCERTAINTY_SEGMENTATION_ID, representation: { type: LABELMAP, data: { volumeId: id } } },
    ]);
  } else {
    const images = imageLoader.createAndCacheDerivedLabelmapImages([...source.imageIds]);
    const first = images[0];
    const sliceSize = first ? first.rows * first.columns : 0;
    const viewer = fromWireOrder(bins, sliceSize, wireToSourceSlices(source.imageIds.map(positionOf), orientation));
    images.forEach((image, k) => {
      const data = image.voxelManager?.getScalarData();
      if (!(data instanceof Uint8Array)) throw new Error("the uncertainty images are not uint8");
      data.set(viewer.subarray(k * sliceSize, (k + 1) * sliceSize));
    });
    segmentation.addSegmentations([
      {
        segmentationId: UNCERTAINTY_SEGMENTATION_ID,
        representation: { type: LABELMAP, data: { imageIds: images.map((image) => image.imageId) } },
      },
    ]);
  }
  // Its own style (over the global one the opacity slider sets): fill only, alpha from the LUT.
  segmentation.config.style.setStyle(
    { type: LABELMAP, segmentationId: UNCERTAINTY_SEGMENTATION_ID },
    { renderFill: true, renderFillInactive: true, renderOutline: false, renderOutlineInactive: false, fillAlpha: 1, fillAlphaInactive: 1 },
  );
}

/** The toggle and the show/hide of the overlay on the viewer's current viewports. */
export class UncertaintyOverlay {
  readonly element: HTMLElement;
  readonly button: HTMLButtonElement;
  private readonly legend: HTMLElement;
  private visible = false;
  private shownOn: string[] = [];

  constructor(private readonly viewportIds: () => string[]) {
    this.button = h("button", { type: "button", title: "Model uncertainty heat map (U)", "aria-pressed": "false", "data-overlay": "uncertainty" }, "Uncertainty");
    this.button.addEventListener("click", () => this.toggle());
    const labels = binLabels();
    this.legend = h(
      "span",
      { className: "nf-uncertainty-legend", hidden: true, title: "Variance of the model's probability across augmented passes" },
      ...labels.map((label, i) => {
        const [r, g, b] = HEAT_COLOURS[i + 1] ?? [0, 0, 0];
        return h("span", { className: "nf-swatch", title: label, style: `background:rgb(${r},${g},${b})` });
      }),
    );
    this.element = h("div", { className: "nf-group", role: "group", "aria-label": "Uncertainty" }, this.button, this.legend);
  }

  get isVisible(): boolean {
    return this.visible;
  }

  toggle(): boolean {
    this.setVisible(!this.visible);
    return this.visible;
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    this.button.setAttribute("aria-pressed", String(visible));
    this.legend.hidden = !visible;
    if (visible) this.attach();
    else this.detach();
  }

  /** Take the overlay off the viewports it is on (call before the layout's viewports go). */
  detach(): void {
    for (const id of this.shownOn) {
      segmentation.removeSegmentationRepresentations(id, { segmentationId: UNCERTAINTY_SEGMENTATION_ID });
    }
    this.shownOn = [];
  }

  /** Put the overlay on the current viewports when it is on (call after the task labelmap is shown). */
  attach(): void {
    if (!this.visible) return;
    this.detach();
    const ids = this.viewportIds();
    const map: Record<string, Array<{ segmentationId: string; config: { colorLUTOrIndex: Types.ColorLUT } }>> = {};
    for (const id of ids) map[id] = [{ segmentationId: UNCERTAINTY_SEGMENTATION_ID, config: { colorLUTOrIndex: heatLut() } }];
    segmentation.addLabelmapRepresentationToViewportMap(map);
    for (const id of ids) {
      // Cornerstone draws only the active segmentation unless told otherwise, and makes the one
      // just added active: hand that back to the task labelmap, which the tools edit.
      segmentation.config.style.setRenderInactiveSegmentations(id, true);
      segmentation.activeSegmentation.setActiveSegmentation(id, SEGMENTATION_ID);
    }
    this.shownOn = ids;
  }
}

export interface LoadUncertaintyOptions {
  readonly revision: Revision | null | undefined;
  readonly apiRoot: string;
  /** The task labelmap's wire grid; null when the series has none (nothing is shown). */
  readonly grid: GridHeader | null;
  readonly source: UncertaintySource;
  readonly orientation: readonly number[];
  readonly viewportIds: () => string[];
  readonly fetcher?: typeof fetch;
}

/**
 * Fetch and build the overlay of a model revision; null when the revision is not the model's or
 * has no map (404). Other failures (network, a map that does not fit the series) throw.
 */
export async function loadUncertaintyOverlay(options: LoadUncertaintyOptions): Promise<UncertaintyOverlay | null> {
  const { revision, grid } = options;
  if (!revision || revision.author_kind !== "model" || !grid) return null;
  const map = await fetchUncertainty(inferenceRoot(options.apiRoot), revision.id, options.fetcher);
  if (!map) return null;
  const problem = gridMismatch(map.header, grid);
  if (problem) throw new Error(`The uncertainty map does not fit this series: ${problem}`);
  createSegmentation(options.source, options.orientation, binUncertainty(map.voxels));
  return new UncertaintyOverlay(options.viewportIds);
}


