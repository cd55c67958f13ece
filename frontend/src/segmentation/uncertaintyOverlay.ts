// The uncertainty heat overlay inside Cornerstone: a second labelmap segmentation on the task's
// grid (a LabelmapLayer), whose voxels are the bins of uncertainty.ts.

import type { Revision } from "../api/types";
import { h } from "../ui/dom";
import { LabelmapLayer, type LayerSource } from "./layer";
import { binLabels, binUncertainty, fetchUncertainty, heatLut, HEAT_COLOURS, inferenceRoot } from "./uncertainty";
import { gridMismatch } from "./voxelOrder";
import type { GridHeader } from "./wire";

export const UNCERTAINTY_SEGMENTATION_ID = "noduleflow-uncertainty";

export type UncertaintySource = LayerSource;

/** The toggle and the show/hide of the overlay on the viewer's current viewports. */
export class UncertaintyOverlay {
  readonly element: HTMLElement;
  readonly button: HTMLButtonElement;
  private readonly legend: HTMLElement;
  private visible = false;

  constructor(
    private readonly layer: LabelmapLayer,
    private readonly viewportIds: () => string[],
  ) {
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
    this.layer.hide();
  }

  /** Put the overlay on the current viewports when it is on (call after the task labelmap is shown). */
  attach(): void {
    if (this.visible) this.layer.show(this.viewportIds());
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
  // Fill only, alpha from the colour table.
  const layer = new LabelmapLayer(UNCERTAINTY_SEGMENTATION_ID, options.source, options.orientation, binUncertainty(map.voxels), heatLut(), {
    fill: true,
    fillAlpha: 1,
    outline: false,
  });
  return new UncertaintyOverlay(layer, options.viewportIds);
}


