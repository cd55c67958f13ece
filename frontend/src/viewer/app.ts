// The task viewer: loads the task and its series, shows the model's (or last) revision as a
// labelmap overlay, lets the radiologist correct it, keeps findings in step, and saves. A reviewer
// holding the task sees the same, with the model's pre-annotation and the diff with it on toggles,
// comments per finding and the decision buttons; a past revision opens read-only.

import {
  Enums,
  RenderingEngine,
  cache,
  eventTarget,
  imageLoadPoolManager,
  imageLoader,
  setVolumesForViewports,
  utilities as csUtils,
  volumeLoader,
  type Types,
} from "@cornerstonejs/core";
import { wadors } from "@cornerstonejs/dicom-image-loader";
import { Enums as ToolEnums, utilities as toolUtilities } from "@cornerstonejs/tools";

import { AnnotationsApi, ApiError } from "../api/client";
import type { Finding, Revision, Task } from "../api/types";
import { connectedComponents, labelSignature } from "../findings/components";
import { findingsFor } from "../findings/match";
import { measure } from "../findings/measure";
import { FindingsPanel } from "../findings/panel";
import { decisionRequest, orphanDrafts, reworkNotes } from "../review/comments";
import { accessFor, modelRevision, revisionBanner, stateLabel, type Access } from "../review/mode";
import { ReviewPanel, type Decision } from "../review/panel";
import { binarize, DIFF_ADDED, DIFF_REMOVED, diffSummary, labelDiff } from "../segmentation/diff";
import { interpolateSlices } from "../segmentation/interpolation";
import {
  history,
  hideFromViewports,
  pushVoxelChange,
  setActiveSegment,
  setOverlayStyle,
  setSegmentVisible,
  showOnViewports,
  stackLabelmap,
  volumeLabelmap,
  type LabelmapStore,
} from "../segmentation/labelmap";
import { Saver, type SaveState } from "../segmentation/saver";
import { LabelmapLayer, layerLut, type LayerSource } from "../segmentation/layer";
import { loadUncertaintyOverlay, type UncertaintyOverlay } from "../segmentation/uncertaintyOverlay";
import { followStackUndo, refreshVolumeTextures } from "../segmentation/volumeTextures";
import { gridMismatch, wireGrid } from "../segmentation/voxelOrder";
import { decodeLabelmap, encodeLabelmap, type GridHeader, type Labelmap } from "../segmentation/wire";
import { SHORTCUTS, actionForKey, type Action, type ToolName } from "../tools/keymap";
import { DEFAULT_BRUSH_SIZE, DEFAULT_THRESHOLD, EDITING_TOOLS, ViewerTools } from "../tools/toolGroups";
import { choose, shortcutSheet } from "../ui/dialog";
import { h } from "../ui/dom";
import { Progress } from "../ui/progress";
import { Toasts } from "../ui/toast";
import { Toolbar, type Layout } from "../ui/toolbar";
import { LUNG, voiRange, type WindowPreset } from "./presets";
import { startCornerstone } from "./engine";
import { loadFramesFrom } from "./frameLoader";
import { axialStackOrder } from "./axialStack";
import { nearestFirst } from "./loadOrder";
import { drawOverlaysInOpaquePass } from "./overlayPass";
import { prefetch, type Prefetched } from "./prefetch";
import type { Preview } from "./preview";
import { framesFromMetadata, type DicomJson, type SeriesFrames } from "./series";

export interface ViewerConfig {
  readonly taskId: string;
  readonly apiRoot: string;
  readonly dicomwebRoot: string;
  readonly autosaveSeconds: number;
  /** A past revision to show read-only; null or absent: the latest. */
  readonly revisionId?: number | null;
  /** The series' UIDs as the page gives them (the task's own must match). */
  readonly seriesUid?: string;
}

const MODEL_SEGMENTATION_ID = "noduleflow-model";
const DIFF_SEGMENTATION_ID = "noduleflow-diff";
// Colours no project segment is likely to use: the model in cyan, the diff green (added by the
// people) and magenta (the model's, dropped).
const MODEL_COLOUR = [0, 210, 255, 255] as const;
const DIFF_COLOURS = { [DIFF_ADDED]: [40, 200, 80, 255], [DIFF_REMOVED]: [230, 50, 210, 255] } as const;

type Toggle = "none" | "off" | "on";

const ENGINE_ID = "noduleflow-engine";
const VOLUME_ID = "cornerstoneStreamingImageVolume:noduleflow-ct";
/**
 * A viewport of a layout: a stack viewport draws one image (a 2D texture), a volume viewport
 * ray-casts a slice of the volume, which costs about twice as much per draw under software WebGL.
 * So the single axial view of an axial series is a stack over the volume's own images, showing
 * the same labelmap (segmentation/labelmap.ts); the MPR views, which need the volume, and the
 * axial view of a series acquired in another plane, which it reslices, are volume viewports.
 */
interface ViewportSpec {
  readonly id: string;
  readonly kind: "stack" | "volume";
  readonly orientation?: Enums.OrientationAxis;
  readonly label: string;
}
const AXIAL_STACK: ViewportSpec = { id: "axial-stack", kind: "stack", label: "Axial" };
const AXIAL_VOLUME: ViewportSpec = { id: "axial", kind: "volume", orientation: Enums.OrientationAxis.AXIAL, label: "Axial" };
const MPR: readonly ViewportSpec[] = [
  AXIAL_VOLUME,
  { id: "sagittal", kind: "volume", orientation: Enums.OrientationAxis.SAGITTAL, label: "Sagittal" },
  { id: "coronal", kind: "volume", orientation: Enums.OrientationAxis.CORONAL, label: "Coronal" },
];
const STACK: readonly ViewportSpec[] = [{ id: "stack", kind: "stack", label: "Stack" }];

export class Viewer {
  private readonly api: AnnotationsApi;
  private readonly toasts = new Toasts();
  private readonly progress = new Progress();
  private readonly status = h("div", { className: "nf-status", "aria-live": "polite" });
  private readonly cursor = h("div", { className: "nf-cursor" });
  private readonly saveState = h("span", { className: "nf-save-state" }, "");
  private readonly grid = h("div", { className: "nf-grid" });
  private readonly side = h("aside", { className: "nf-side" });
  private readonly dialogs = h("div", { className: "nf-dialogs" });
  private engine: RenderingEngine | null = null;
  private tools: ViewerTools | null = null;
  private toolbar: Toolbar | null = null;
  private panel: FindingsPanel | null = null;
  private store: LabelmapStore | null = null;
  private saver: Saver | null = null;
  private task: Task | null = null;
  private series: SeriesFrames | null = null;
  private wire: GridHeader | null = null;
  private layout: Layout = "axial";
  /** The volume's images as the axial stack shows them (head to feet); null: not an axial series. */
  private axialStack: string[] | null = null;
  /** Where the axial stack opens: the image the volume loads first. */
  private axialStart = 0;
  private preset: WindowPreset = LUNG;
  private findings: Finding[] = [];
  private activeSegment = 1;
  private overlay = { opacity: 0.5, outlineOnly: false };
  /** Signature of the labelmap as last loaded or saved: edits that return to it are not changes. */
  private cleanSignature: string | null = null;
  private signature: string | null = null;
  private findingsTimer: number | null = null;
  private lastLoadingRender = 0;
  /**
   * While the preview stands in for the viewports, they are drawn once, when every frame is in:
   * a draw while frames stream in holds the main thread, and so the frames' decoding (a volume
   * viewport uploads the volume's texture again, hundreds of milliseconds with software WebGL;
   * the axial stack's first draw sets up its WebGL programs and textures).
   */
  private holdRenders = false;
  /** Every frame loaded or failed (see loadImages). */
  private framesIn: Promise<void> = Promise.resolve();
  private resizeObserver: ResizeObserver | null = null;
  private help: HTMLDialogElement | null = null;
  private editable = false;
  /** Whether labels can be drawn at all here (one grid, a labelmap that fits it). */
  private drawable = true;
  /** The model revision's uncertainty heat overlay (null: none, or not loaded yet). */
  private uncertainty: UncertaintyOverlay | null = null;
  private access: Access = accessFor({ permissions: { can_edit: false, can_submit: false } }, null);
  /** The revision whose labels were loaded: the latest, or the one the page asked for. */
  private shown: Revision | null = null;
  private revisions: Revision[] | null = null;
  private revisionsProblem: string | null = null;
  /** The model's pre-annotation and the layers drawn from it (loaded on first use). */
  private model: Revision | null = null;
  private modelVoxels: Promise<Uint8Array | null> | null = null;
  private modelLayer: LabelmapLayer | null = null;
  private diffLayer: LabelmapLayer | null = null;
  private modelOverlay: Toggle = "none";
  private diff: Toggle = "none";
  private diffSignature: string | null = null;
  /** A toggle is waiting for the model's labels: further presses wait for it too. */
  private layerLoading = false;
  private readonly modelButton = h("button", { type: "button", title: "The model's pre-annotation, read-only, in cyan (M)", "aria-pressed": "false", "data-overlay": "model" }, "Model");
  private readonly diffButton = h("button", { type: "button", title: "Diff with the model: green only here, magenta only the model's (D)", "aria-pressed": "false", "data-overlay": "diff" }, "Diff");
  private readonly diffCounts = h("output", { className: "nf-diff-counts", hidden: true });
  private readonly reviewTools = h("div", { className: "nf-group", role: "group", "aria-label": "Compare with the model" }, this.modelButton, this.diffButton, this.diffCounts);
  private readonly taskLabel = h("span", { className: "nf-task" });
  private readonly submitButton = h("button", { type: "button", className: "nf-primary" }, "Submit for review");
  private readonly saveButton = h("button", { type: "button", title: "Save now (Ctrl+S)" }, "Save");
  private readonly reviewPanel = new ReviewPanel({ onStart: () => void this.startReview(), onDecide: (decision) => void this.decide(decision) });
  /** The reviewer's comments per finding, by finding id, while they write them. */
  private readonly drafts = new Map<string, string>();
  /** Ids of the findings of the server's latest revision: comments may name only these. */
  private serverFindingIds = new Set<string>();
  private savingFindingIds: string[] = [];
  private decided = false;
  /** The entry module's first look at the middle slice, until a viewport has drawn. */
  private preview: Preview | null = null;
  private firstDrawn = false;

  constructor(
    private readonly root: HTMLElement,
    private readonly config: ViewerConfig,
    /** Requests main.ts sent while this code loaded (made here when absent). */
    private readonly early?: Prefetched,
    private readonly earlyPreview?: Promise<Preview | null>,
  ) {
    this.api = new AnnotationsApi(config.apiRoot);
  }

  async start(): Promise<void> {
    this.root.classList.add("nf-viewer");
    // data-state on the root: loading, then ready (every frame loaded or failed, the labelmap
    // shown, editing on) or error. Tests and benchmarks wait on it; CSS may use it.
    this.setState("loading");
    this.root.replaceChildren(this.progress.element, this.toasts.element, this.dialogs);
    void this.earlyPreview?.then((preview) => {
      if (!preview || this.firstDrawn) return;
      this.preview = preview;
      this.placePreview();
    });
    try {
      this.progress.step("Loading task…");
      performance.mark("nf:start");
      const early = this.early ?? prefetch(this.config, this.api);
      const task = await early.task;
      this.task = task;
      performance.mark("nf:task");
      if (this.config.seriesUid && this.config.seriesUid !== task.series.series_instance_uid) {
        throw new Error("The page and the task name different series: reload the page.");
      }
      this.access = accessFor(task, this.config.revisionId ?? null);
      this.editable = this.access.editable;
      this.shown = await this.revisionShown(task, early.revisions);
      // Before any metadata is registered: the image loader's init purges its metadata store.
      startCornerstone();
      this.progress.step("Loading series metadata…");
      const series = this.registerMetadata(await early.metadata);
      // The frames requested since the metadata came: Cornerstone's loader takes them from there.
      loadFramesFrom(await early.frames);
      performance.mark("nf:metadata");
      this.series = series;
      const volumeMode = task.series.fit_for_3d !== false && series.uniform;
      this.layout = volumeMode ? "axial" : "stack";
      if (!series.uniform) this.drawable = this.editable = false;
      this.buildPage(task, volumeMode);
      this.holdRenders = volumeMode && this.preview !== null;
      const { allLoaded, firstShown } = await this.loadImages(volumeMode);
      performance.mark("nf:viewports");
      // The labelmap decodes now, while the frames decode in the image loader's worker (this
      // thread mostly waits for them): late enough not to delay the first image or Cornerstone.
      if (this.shown && this.store) void early.labelmap().catch(() => undefined);
      // The overlay waits for the first image (and its paint): writing and drawing tens of MB
      // of labels would otherwise hold it back. With the preview up, that image is drawn once
      // all frames are in; the preview stays until then (a frame that failed may never draw).
      if (this.holdRenders) await allLoaded.then(() => Promise.race([firstShown, new Promise((resolve) => window.setTimeout(resolve, 3000))]));
      await Promise.race([firstShown, allLoaded]);
      performance.mark("nf:first-image");
      this.firstDrawn = true;
      this.preview?.remove();
      this.preview = null;
      await new Promise((resolve) => window.setTimeout(resolve, 0));
      this.showOverlay();
      await this.loadLabelmap(task, early.labelmap);
      void this.loadUncertainty(task);
      performance.mark("nf:labelmap");
      this.listen();
      await allLoaded;
      this.progress.done();
      performance.mark("nf:ready");
      this.setState("ready");
    } catch (error) {
      this.progress.done();
      this.setState("error");
      this.toasts.error(error);
      this.status.textContent = error instanceof Error ? error.message : String(error);
    }
  }

  private setState(state: "loading" | "ready" | "error"): void {
    this.root.dataset["state"] = state;
  }

  /**
   * What tests and styles read on the root besides data-state: data-mode (annotate, review,
   * read), data-task-state, data-model-overlay and data-diff (none, off, on), and the diff's
   * data-diff-added and data-diff-removed voxel counts.
   */
  private setDataset(): void {
    const data = this.root.dataset;
    data["mode"] = this.access.mode;
    data["taskState"] = this.task?.state ?? "";
    data["modelOverlay"] = this.modelOverlay;
    data["diff"] = this.diff;
    if (this.shown) data["shownRevision"] = String(this.shown.id);
    this.modelButton.disabled = this.diffButton.disabled = this.model === null;
    if (this.model === null) this.reviewTools.title = this.revisionsProblem ?? "This task has no model pre-annotation";
  }

  /** The revision to show: the latest, or the page's ?revision= one, which must be this task's. */
  private async revisionShown(task: Task, revisions: Promise<Revision[]>): Promise<Revision | null> {
    try {
      this.revisions = await revisions;
      this.model = modelRevision(this.revisions);
      if (this.model) this.modelOverlay = this.diff = "off";
    } catch (error) {
      this.revisionsProblem = error instanceof Error ? error.message : String(error);
    }
    const wanted = this.config.revisionId ?? null;
    if (wanted === null) return task.latest_revision;
    if (this.revisions === null) throw new Error(this.revisionsProblem ?? "Could not load the task's revisions");
    const revision = this.revisions.find((r) => r.id === wanted);
    if (!revision) throw new Error(`Task ${task.id} has no revision #${wanted}: open one from the task's history.`);
    return revision;
  }

  // ---------- loading ----------

  private registerMetadata({ base, instances }: { base: string; instances: DicomJson[] }): SeriesFrames {
    const series = framesFromMetadata(instances, base);
    if (series.frames.length === 0) throw new Error(`Could not load the series: ${series.problem}`);
    for (const frame of series.frames) {
      wadors.metaDataManager.add(frame.imageId, frame.metadata as unknown as Parameters<typeof wadors.metaDataManager.add>[1]);
    }
    return series;
  }

  /**
   * Mount the viewports and start loading every frame. firstShown: a viewport has drawn the
   * image it shows; allLoaded: every frame loaded or failed.
   */
  private async loadImages(volumeMode: boolean): Promise<{ allLoaded: Promise<void>; firstShown: Promise<void> }> {
    const frames = this.series?.frames ?? [];
    const imageIds = frames.map((f) => f.imageId);
    const wanted = new Set(imageIds);
    let done = 0;
    let failed = 0;
    const total = imageIds.length;
    this.progress.step("Loading images", 0, total);
    let finish: () => void = () => undefined;
    const allLoaded = new Promise<void>((resolve) => {
      finish = resolve;
    });
    this.framesIn = allLoaded;
    const loaded = (event: Event): void => {
      const detail = (event as CustomEvent<{ image?: { imageId?: string }; imageId?: string }>).detail;
      const id = detail.image?.imageId ?? detail.imageId ?? "";
      if (!wanted.delete(id)) return;
      if (event.type === Enums.Events.IMAGE_LOAD_FAILED) failed++;
      done++;
      this.progress.step(failed ? `Loading images (${failed} failed)` : "Loading images", done, total);
      if (event.type === Enums.Events.IMAGE_LOADED) this.renderIfShown(id);
      if (done === total) {
        performance.mark("nf:images-loaded");
        this.holdRenders = false;
        this.engine?.renderViewports(this.viewportIds());
        if (failed) this.toasts.show(`${failed} of ${total} images could not be loaded or decoded.`, "error");
        eventTarget.removeEventListener(Enums.Events.IMAGE_LOADED, loaded);
        eventTarget.removeEventListener(Enums.Events.IMAGE_LOAD_FAILED, loaded);
        finish();
      }
    };
    eventTarget.addEventListener(Enums.Events.IMAGE_LOADED, loaded);
    eventTarget.addEventListener(Enums.Events.IMAGE_LOAD_FAILED, loaded);
    const reference = frames[0];
    const orientation = reference?.orientation ?? [1, 0, 0, 0, 1, 0];
    if (volumeMode) {
      const volume = await volumeLoader.createAndCacheVolume(VOLUME_ID, { imageIds });
      const first = streamNearestFirst(volume);
      const positions = new Map(frames.map((f) => [f.imageId, f.position ?? ([0, 0, 0] as const)]));
      const order = axialStackOrder(volume.imageIds.map((id) => positions.get(id) ?? [0, 0, 0]), orientation);
      this.axialStack = order && order.map((i) => volume.imageIds[i] ?? "");
      this.axialStart = Math.max(0, this.axialStack?.indexOf(first) ?? 0);
      // The WebGL set-up (a good part of a second under software rendering) runs while the
      // image loader's worker decodes the first frames, not before it has any.
      this.engine = new RenderingEngine(ENGINE_ID);
      this.mountViewports();
      this.store = volumeLabelmap(VOLUME_ID, orientation);
    } else {
      this.engine = new RenderingEngine(ENGINE_ID);
      this.mountViewports();
      if (this.editable || this.shown || this.access.canStartReview) this.store = stackLabelmap(imageIds, orientation);
    }
    const firstShown = this.firstImageShown();
    if (reference && this.series?.uniform) {
      const geometry = this.task?.series.geometry;
      this.wire = wireGrid(
        {
          positions: frames.map((f) => f.position ?? [0, 0, 0]),
          orientation,
          pixelSpacing: reference.pixelSpacing ?? [1, 1],
          rows: reference.rows,
          columns: reference.columns,
          sliceSpacing: geometry?.slice_spacing ?? null,
        },
        this.task?.series.series_instance_uid ?? "",
      ).grid;
    }
    return { allLoaded, firstShown };
  }

  /** While frames stream in, redraw a viewport only when the slice it shows has arrived. */
  private renderIfShown(imageId: string): void {
    if (this.holdRenders) return;
    for (const id of this.viewportIds()) {
      const viewport = this.engine?.getViewport(id) as (Types.IVolumeViewport | Types.IStackViewport) | undefined;
      const shown = viewport?.getCurrentImageId();
      if (shown === imageId) viewport?.render();
      else if (shown === undefined && this.layout === "mpr" && performance.now() - this.lastLoadingRender > 500) {
        // Sagittal and coronal views show a little of every frame: every half second is enough.
        this.lastLoadingRender = performance.now();
        viewport?.render();
      }
    }
  }

  /** Draw the viewports whose slice has arrived (an empty slice is not worth a redraw). */
  private renderShownIfLoaded(): void {
    if (this.holdRenders) return;
    for (const id of this.viewportIds()) {
      const viewport = this.engine?.getViewport(id) as (Types.IVolumeViewport | Types.IStackViewport) | undefined;
      const shown = viewport?.getCurrentImageId();
      if (shown === undefined || cache.isLoaded(shown)) viewport?.render();
    }
  }

  /** Resolves once a viewport has drawn the image it shows (not the black of an empty slice). */
  private firstImageShown(): Promise<void> {
    return new Promise((resolve) => {
      const elements = this.viewportIds().flatMap((id) => {
        const viewport = this.engine?.getViewport(id);
        return viewport ? [{ viewport: viewport as Types.IVolumeViewport | Types.IStackViewport, element: viewport.element }] : [];
      });
      const rendered = (): void => {
        const drawn = elements.some(({ viewport }) => {
          const shown = viewport.getCurrentImageId();
          return shown !== undefined && cache.isLoaded(shown);
        });
        if (!drawn) return;
        for (const { element } of elements) element.removeEventListener(Enums.Events.IMAGE_RENDERED, rendered);
        resolve();
      };
      for (const { element } of elements) element.addEventListener(Enums.Events.IMAGE_RENDERED, rendered);
    });
  }

  /** A model revision's uncertainty map, as a heat overlay toggled from the toolbar (U); a 404 is no overlay. */
  private async loadUncertainty(task: Task): Promise<void> {
    const frames = this.series?.frames ?? [];
    try {
      this.uncertainty = await loadUncertaintyOverlay({
        revision: this.shown,
        apiRoot: this.config.apiRoot,
        grid: this.store ? this.wire : null,
        source: this.layout === "stack" ? { imageIds: frames.map((f) => f.imageId) } : { volumeId: VOLUME_ID },
        orientation: frames[0]?.orientation ?? [1, 0, 0, 0, 1, 0],
        viewportIds: () => this.viewportIds(),
      });
      if (this.uncertainty) this.toolbar?.element.append(this.uncertainty.element);
    } catch (error) {
      this.toasts.error(error);
    }
  }

  private async loadLabelmap(task: Task, prefetched: () => Promise<Labelmap | null>): Promise<void> {
    const revision = this.shown;
    this.saver = new Saver(this.api, this.config.taskId, task.latest_revision?.id ?? null, () => this.snapshot(), {
      onState: (state, detail) => this.showSaveState(state, detail),
      onSaved: (saved) => {
        this.serverFindingIds = new Set(this.savingFindingIds);
        // The page's History section follows (ui/history.ts).
        this.root.dispatchEvent(new CustomEvent("nf:revision-saved", { detail: { revisionId: saved.id } }));
        // A first save moves a new or reworked task to in progress: follow (submit turns on).
        if (this.access.mode === "annotate" && this.task?.state !== "in_progress") void this.refreshTask();
      },
      onConflict: (error) => void this.conflict(error),
      onError: (error) => this.toasts.error(error),
    });
    this.findings = [...(revision?.findings ?? [])];
    this.serverFindingIds = new Set((task.latest_revision?.findings ?? []).map((f) => f.id));
    let loaded: Uint8Array | undefined;
    if (revision && this.store && this.wire) {
      this.progress.step("Loading labelmap…");
      const labelmap = await prefetched();
      if (!labelmap) throw new Error(`Could not load the labelmap of revision ${revision.id}`);
      const problem = gridMismatch(labelmap.header, this.wire);
      if (problem) {
        this.toasts.show(`The saved labelmap does not fit this series: ${problem}. Editing is off.`, "error");
        this.drawable = this.editable = false;
      } else {
        this.store.write(labelmap.voxels);
        loaded = labelmap.voxels;
      }
      const who = revision.author_kind === "model" ? `model ${revision.author}` : revision.author;
      this.showSaveState("clean", `Revision ${revision.id} by ${who}`);
    } else {
      this.showSaveState("clean", revision ? `Revision ${revision.id}` : "No revision yet");
    }
    // Measure what was loaded now, so its signature is the clean state edits are compared with
    // (from the wire voxels just written: reading them back out of Cornerstone is a copy).
    this.cleanSignature = null;
    this.recomputeFindings(loaded);
    this.applyTask(task);
    if (this.editable) this.saver.startAutosave(this.config.autosaveSeconds);
  }

  // ---------- page ----------

  private buildPage(task: Task, volumeMode: boolean): void {
    this.toolbar = this.makeToolbar(volumeMode);
    this.panel = new FindingsPanel(task.schema, this.editable, {
      onJump: (finding) => this.jumpTo(finding),
      onAttribute: (id, name, value) => this.setAttribute(id, name, value),
    });
    this.saveButton.disabled = !this.editable;
    this.saveButton.addEventListener("click", () => void this.saver?.save({ force: true }));
    this.submitButton.addEventListener("click", () => void this.submit());
    const next = h("button", { type: "button" }, "Next task");
    next.addEventListener("click", () => void this.nextTask());
    const helpButton = h("button", { type: "button", title: "Keyboard shortcuts (?)" }, "?");
    helpButton.addEventListener("click", () => this.toggleHelp());
    this.modelButton.addEventListener("click", () => void this.toggleModel());
    this.diffButton.addEventListener("click", () => void this.toggleDiff());
    const unfit =
      task.series.fit_for_3d === false || !(this.series?.uniform ?? true)
        ? h(
            "p",
            { className: "nf-banner", role: "note" },
            `Stack mode only: ${task.series.unfit_reason || this.series?.problem || "this series is not fit for 3D"}.`,
            this.series?.uniform === false ? " Drawing is off because the slices do not share one grid." : "",
          )
        : null;
    const header = h(
      "div",
      { className: "nf-header" },
      this.taskLabel,
      this.saveState,
      h("span", { className: "nf-spacer" }),
      this.saveButton,
      this.submitButton,
      next,
      helpButton,
    );
    this.side.replaceChildren(this.reviewPanel.element, this.toolbar.overlay, this.panel.element);
    this.root.replaceChildren(
      header,
      unfit ?? "",
      this.revisionNote(),
      this.reworkBanner(task),
      this.toolbar.element,
      h("div", { className: "nf-main" }, h("div", { className: "nf-stage" }, this.grid, h("div", { className: "nf-readout" }, this.status, this.cursor)), this.side),
      this.progress.element,
      this.toasts.element,
      this.dialogs,
    );
    this.toolbar.setLayout(this.layout);
    this.toolbar.setActiveTool("windowLevel");
    this.applyTask(task);
    this.placePreview();
  }

  /** Keep the first look where the first viewport is (or will be) until that viewport draws. */
  private placePreview(): void {
    const preview = this.preview;
    if (!preview) return;
    const holder = this.grid.isConnected ? (this.grid.querySelector(".nf-cell") ?? this.grid) : this.root;
    if (preview.element.parentElement !== holder) holder.prepend(preview.element);
    preview.fit();
  }

  private makeToolbar(volumeMode: boolean): Toolbar {
    const toolbar = new Toolbar(
      {
        editable: this.editable,
        layouts: volumeMode ? ["axial", "mpr"] : ["stack"],
        crosshairs: volumeMode,
        segments: this.task?.schema.segments ?? [],
        brushSize: this.tools?.size ?? DEFAULT_BRUSH_SIZE,
        threshold: this.tools?.thresholdRange ?? DEFAULT_THRESHOLD,
      },
      {
        onTool: (tool) => this.activateTool(tool),
        onPreset: (preset) => this.applyPreset(preset),
        onLayout: (layout) => this.switchLayout(layout),
        onThreshold: (lower, upper) => this.tools?.setThreshold(lower, upper),
        onUndo: () => this.undo(),
        onRedo: () => this.redo(),
        onInterpolate: () => this.interpolate(),
        onOpacity: (opacity) => this.setOverlay({ ...this.overlay, opacity }),
        onOutline: (outlineOnly) => this.setOverlay({ ...this.overlay, outlineOnly }),
        onSegmentVisible: (segment, visible) => setSegmentVisible(this.viewportIds(), segment, visible),
        onActiveSegment: (segment) => this.selectSegment(segment),
      },
    );
    toolbar.element.append(this.reviewTools);
    if (this.uncertainty) toolbar.element.append(this.uncertainty.element);
    return toolbar;
  }

  /** The banner over a past revision, with the way back to the latest. */
  private revisionNote(): HTMLElement | string {
    if (this.config.revisionId == null || !this.shown) return "";
    return h(
      "p",
      { className: "nf-banner nf-revision-banner", role: "note" },
      `${revisionBanner(this.shown)}. `,
      h("a", { href: window.location.pathname }, "Open the latest revision"),
    );
  }

  /** For the annotator in rework: the reviewer's general comment (finding comments sit by their findings). */
  private reworkBanner(task: Task): HTMLElement | string {
    if (this.config.revisionId != null) return "";
    const notes = reworkNotes(task, (this.shown?.findings ?? []).map((f) => f.id));
    if (!notes) return "";
    const onFindings = [...notes.byFinding.values()].reduce((n, list) => n + list.length, 0);
    return h(
      "div",
      { className: "nf-banner nf-rework-banner", role: "note" },
      h("strong", {}, `Sent back for rework by ${notes.reviewer}`),
      notes.comment ? h("p", { className: "nf-rework-comment" }, notes.comment) : null,
      ...notes.orphaned.map((text) => h("p", { className: "nf-rework-comment" }, `On a finding no longer drawn: ${text}`)),
      onFindings ? h("p", { className: "nf-muted" }, `${onFindings} comment${onFindings === 1 ? "" : "s"} on findings: see the findings panel.`) : null,
    );
  }

  /** Follow the task as the server now reports it: mode, permissions, state, review section. */
  private applyTask(task: Task): void {
    this.task = task;
    this.access = accessFor(task, this.config.revisionId ?? null);
    this.setEditable(this.access.editable && this.drawable);
    this.taskLabel.textContent = `Task ${task.id} · ${stateLabel(task.state)}`;
    // The page heading follows (ui/history.ts).
    this.root.dispatchEvent(new CustomEvent("nf:task-state", { detail: { state: task.state } }));
    this.submitButton.hidden = this.access.mode !== "annotate";
    // An annotator with unsaved work may submit too: submit() saves first.
    this.submitButton.disabled = !(this.access.canSubmit || (this.access.mode === "annotate" && this.editable));
    const findingIds = [...this.findings, ...(this.shown?.findings ?? [])].map((f) => f.id);
    this.panel?.setReview({
      ...(this.access.canDecide && !this.decided ? { drafts: this.drafts } : {}),
      notes: this.config.revisionId == null ? reworkNotes(task, findingIds) : null,
    });
    this.reviewPanel.render(task, this.access, this.decided);
    this.setDataset();
  }

  private async refreshTask(): Promise<void> {
    try {
      this.applyTask(await this.api.task(this.config.taskId));
    } catch {
      // The header's state stays as it was; the next action reports what the server says.
    }
  }

  /** Turn editing on (a reviewer took the task) or off (a decision, a submit): tools follow. */
  private setEditable(editable: boolean): void {
    if (editable === this.editable && this.toolbar) return;
    this.editable = editable;
    this.saveButton.disabled = !editable;
    if (!editable && this.tools && EDITING_TOOLS.has(this.tools.activeTool)) this.activateTool("windowLevel");
    const old = this.toolbar;
    if (old) {
      const toolbar = this.makeToolbar(this.layout !== "stack");
      old.element.replaceWith(toolbar.element);
      old.overlay.replaceWith(toolbar.overlay);
      this.toolbar = toolbar;
      toolbar.setLayout(this.layout);
      toolbar.setActiveTool(this.tools?.activeTool ?? "windowLevel");
      toolbar.setBrushSize(this.tools?.size ?? DEFAULT_BRUSH_SIZE);
      // The new controls start from the defaults: so does what they control.
      this.setOverlay({ opacity: 0.5, outlineOnly: false });
      for (const segment of this.task?.schema.segments ?? []) setSegmentVisible(this.viewportIds(), segment.index, true);
      toolbar.setActiveSegment(this.activeSegment);
    }
    this.panel?.setEditable(editable);
    if (editable) this.saver?.startAutosave(this.config.autosaveSeconds);
    else this.saver?.stopAutosave();
  }

  // ---------- review ----------

  private async startReview(): Promise<void> {
    this.reviewPanel.setBusy(true);
    this.reviewPanel.showError(null);
    try {
      this.applyTask(await this.api.startReview(this.config.taskId));
      this.root.dispatchEvent(new CustomEvent("nf:task-changed"));
      this.toasts.show("Review started: edits you save become your revision.", "ok");
    } catch (error) {
      this.reviewPanel.showError(errorText(error));
    } finally {
      this.reviewPanel.setBusy(false);
    }
  }

  /** Save the reviewer's edits (edit-then-accept), then accept, send to rework or release. */
  private async decide(decision: Decision): Promise<void> {
    this.reviewPanel.setBusy(true);
    this.reviewPanel.showError(null);
    try {
      const findingIds = this.findings.map((f) => f.id);
      const request = decisionRequest(this.reviewPanel.comment.value, this.drafts, findingIds);
      // Comments may name only findings of the server's latest revision: when the labels were
      // edited, or a finding is known only here, save first.
      const unknown = request.finding_comments.some((c) => !this.serverFindingIds.has(c.finding_id));
      if (this.saver && (this.saver.isDirty || unknown)) {
        if (!(await this.saver.save({ force: true }))) {
          this.reviewPanel.showError("Your edits could not be saved, so nothing was decided (see the message above).");
          return;
        }
      }
      const lost = orphanDrafts(this.drafts, findingIds);
      const id = this.config.taskId;
      const task =
        decision === "accept" ? await this.api.accept(id, request) : decision === "rework" ? await this.api.sendToRework(id, request) : await this.api.releaseReview(id);
      this.decided = true;
      this.applyTask(task);
      this.root.dispatchEvent(new CustomEvent("nf:task-changed"));
      const done = decision === "accept" ? "Accepted." : decision === "rework" ? "Sent back for rework." : "Released to the review queue.";
      this.toasts.show(lost ? `${done} ${lost} comment(s) on erased findings were not sent.` : done, "ok");
    } catch (error) {
      this.reviewPanel.showError(errorText(error));
    } finally {
      this.reviewPanel.setBusy(false);
    }
  }

  // ---------- the model's pre-annotation and the diff with it ----------

  private layerSource(): LayerSource {
    return this.layout === "stack" ? { imageIds: (this.series?.frames ?? []).map((f) => f.imageId) } : { volumeId: VOLUME_ID };
  }

  private orientation(): readonly number[] {
    return this.series?.frames[0]?.orientation ?? [1, 0, 0, 0, 1, 0];
  }

  /** The model revision's voxels (wire order), fetched once; null (with a message) when there are none. */
  private loadModelVoxels(): Promise<Uint8Array | null> {
    const model = this.model;
    const grid = this.wire;
    if (!model) {
      this.toasts.show(this.revisionsProblem ?? "This task has no model pre-annotation to compare with.");
      return Promise.resolve(null);
    }
    if (!this.store || !grid) {
      this.toasts.show("The model's labels cannot be shown on this series (no labelmap grid).");
      return Promise.resolve(null);
    }
    this.modelVoxels ??= (async () => {
      const labelmap = await decodeLabelmap(await this.api.labelmap(model.id));
      const problem = gridMismatch(labelmap.header, grid);
      if (problem) throw new Error(`The model's labelmap does not fit this series: ${problem}`);
      return labelmap.voxels;
    })().catch((error: unknown) => {
      this.toasts.error(error);
      this.modelVoxels = null; // try again on the next toggle
      return null;
    });
    return this.modelVoxels;
  }

  /** The model's voxels for a toggle; null while another toggle is loading them (that one decides). */
  private async modelForToggle(): Promise<Uint8Array | null> {
    if (this.layerLoading) return null;
    this.layerLoading = true;
    try {
      return await this.loadModelVoxels();
    } finally {
      this.layerLoading = false;
    }
  }

  private async toggleModel(): Promise<void> {
    if (this.modelOverlay === "on") {
      this.modelLayer?.hide();
      this.setModelOverlay("off");
      return;
    }
    const voxels = await this.modelForToggle();
    if (!voxels) return;
    this.modelLayer ??= new LabelmapLayer(MODEL_SEGMENTATION_ID, this.layerSource(), this.orientation(), binarize(voxels), layerLut([MODEL_COLOUR]), {
      fill: true,
      fillAlpha: 0.2,
      outline: true,
      outlineWidth: 2,
    });
    this.modelLayer.show(this.viewportIds());
    this.setModelOverlay("on");
  }

  private setModelOverlay(state: Toggle): void {
    this.modelOverlay = state;
    this.modelButton.setAttribute("aria-pressed", String(state === "on"));
    this.setDataset();
  }

  private async toggleDiff(): Promise<void> {
    if (this.diff === "on") {
      this.diffLayer?.hide();
      this.diffCounts.hidden = true;
      this.setDiff("off");
      return;
    }
    const voxels = await this.modelForToggle();
    if (!voxels || !this.store) return;
    this.diffSignature = null;
    this.updateDiff(voxels);
    this.diffLayer?.show(this.viewportIds());
    this.diffCounts.hidden = false;
    this.setDiff("on");
  }

  /** Recompute the diff of the labels as they are now with the model's (after each edit while shown). */
  private updateDiff(model: Uint8Array): void {
    if (!this.store || this.diffSignature === this.signature) return;
    const diff = labelDiff(this.store.read(), model);
    this.diffSignature = this.signature;
    if (this.diffLayer) this.diffLayer.update(diff.voxels);
    else {
      this.diffLayer = new LabelmapLayer(DIFF_SEGMENTATION_ID, this.layerSource(), this.orientation(), diff.voxels, layerLut([DIFF_COLOURS[DIFF_ADDED], DIFF_COLOURS[DIFF_REMOVED]]), {
        fill: true,
        fillAlpha: 0.6,
        outline: true,
      });
    }
    this.diffCounts.textContent = diffSummary(diff);
    this.root.dataset["diffAdded"] = String(diff.added);
    this.root.dataset["diffRemoved"] = String(diff.removed);
  }

  private setDiff(state: Toggle): void {
    this.diff = state;
    this.diffButton.setAttribute("aria-pressed", String(state === "on"));
    this.setDataset();
  }

  private mountViewports(): void {
    const engine = this.engine;
    if (!engine) return;
    const specs = this.viewportSpecs();
    this.grid.dataset["layout"] = this.layout;
    const elements = specs.map((spec) => {
      const type = spec.kind === "volume" ? Enums.ViewportType.ORTHOGRAPHIC : Enums.ViewportType.STACK;
      const element = h("div", { className: "nf-viewport", "data-viewport": spec.id, "data-viewport-type": type, "aria-label": `${spec.label} view` });
      element.addEventListener("contextmenu", (event) => event.preventDefault());
      element.addEventListener("mousemove", (event) => this.readCursor(spec.id, element, event));
      return { spec, element, type };
    });
    this.grid.replaceChildren(...elements.map(({ spec, element }) => h("div", { className: "nf-cell" }, element, h("span", { className: "nf-label" }, spec.label))));
    this.placePreview();
    engine.setViewports(
      elements.map(({ spec, element, type }) => ({
        viewportId: spec.id,
        element,
        type,
        defaultOptions: { ...(spec.orientation ? { orientation: spec.orientation } : {}), background: [0, 0, 0] as Types.Point3 },
      })),
    );
    const ids = specs.map((s) => s.id);
    const volumeViewports = specs.filter((s) => s.kind === "volume").map((s) => s.id);
    if (volumeViewports.length > 0) {
      void setVolumesForViewports(engine, [{ volumeId: VOLUME_ID }], volumeViewports).then(() => {
        this.applyPreset(this.preset, false);
        this.renderShownIfLoaded();
      });
    }
    for (const spec of specs) {
      if (spec.kind === "stack") this.mountStack(engine.getViewport(spec.id) as Types.IStackViewport);
    }
    const previous = this.tools;
    const tools = new ViewerTools(this.layout === "mpr");
    if (previous) {
      tools.setBrushSize(previous.size);
      tools.setThreshold(...previous.thresholdRange);
    }
    tools.activate(previous && (previous.activeTool !== "crosshairs" || this.layout === "mpr") ? previous.activeTool : "windowLevel");
    // Viewports join the group once its tools are set: each tool change redraws the group's
    // viewports, and a first draw (WebGL set-up) would block the page while frames arrive.
    for (const id of ids) tools.addViewport(id, ENGINE_ID);
    this.tools = tools;
    this.toolbar?.setActiveTool(tools.activeTool);
    this.toolbar?.setLayout(this.layout);
    this.watchSize(engine);
  }

  /**
   * Give a stack viewport its images: in the axial layout the volume's (already streaming into
   * the cache), opening on the one loaded first, once every frame is in if the preview stands in
   * meanwhile; in stack mode the series' own, opening on the middle one, fetched nearest first by
   * Cornerstone's prefetch.
   */
  private mountStack(viewport: Types.IStackViewport): void {
    drawOverlaysInOpaquePass(viewport);
    const streaming = this.layout === "axial" ? this.axialStack : null;
    const imageIds = streaming ?? (this.series?.frames ?? []).map((f) => f.imageId);
    const shown = this.holdRenders ? this.framesIn : Promise.resolve();
    void shown.then(() => viewport.setStack(imageIds, streaming ? this.axialStart : Math.floor(imageIds.length / 2))).then(
      () => {
        this.applyPreset(this.preset);
        // A stack loads only the image shown: fetch the rest, nearest first, so scrolling
        // is smooth and loading ends (the progress bar and data-state wait for every frame).
        if (!streaming) toolUtilities.stackPrefetch.enable(viewport.element);
      },
      (error: unknown) => this.toasts.error(error),
    );
  }

  /** Resize the viewports with the grid (one observer, and no redraw for its first report). */
  private watchSize(engine: RenderingEngine): void {
    if (this.resizeObserver) return;
    let last = "";
    this.resizeObserver = new ResizeObserver(([entry]) => {
      const size = entry ? `${entry.contentRect.width}x${entry.contentRect.height}` : "";
      if (last !== "" && size !== last) engine.resize(true, true);
      last = size;
    });
    this.resizeObserver.observe(this.grid);
  }

  private showOverlay(): void {
    if (!this.store || !this.task) return;
    showOnViewports(this.viewportIds(), this.task.schema.segments);
    setOverlayStyle(this.overlay);
    const first = this.task.schema.segments[0];
    if (first) this.selectSegment(first.index);
  }

  private viewportSpecs(): readonly ViewportSpec[] {
    if (this.layout === "mpr") return MPR;
    if (this.layout === "stack") return STACK;
    return this.axialStack ? [AXIAL_STACK] : [AXIAL_VOLUME];
  }

  private viewportIds(): string[] {
    return this.viewportSpecs().map((s) => s.id);
  }

  private switchLayout(layout: Layout): void {
    if (layout === this.layout || !this.engine) return;
    if (this.store) hideFromViewports(this.viewportIds());
    this.uncertainty?.detach();
    this.modelLayer?.hide();
    this.diffLayer?.hide();
    this.layout = layout;
    this.mountViewports();
    this.showOverlay();
    this.uncertainty?.attach();
    if (this.modelOverlay === "on") this.modelLayer?.show(this.viewportIds());
    if (this.diff === "on") this.diffLayer?.show(this.viewportIds());
    // What was drawn in the axial stack is in the labelmap's images, not yet in its volume's texture.
    if (layout === "mpr") refreshVolumeTextures();
  }

  // ---------- tools and display ----------

  private activateTool(tool: ToolName): void {
    if (EDITING_TOOLS.has(tool) && !this.editable) return;
    this.tools?.activate(tool);
    this.toolbar?.setActiveTool(this.tools?.activeTool ?? tool);
  }

  private applyPreset(preset: WindowPreset, render = true): void {
    this.preset = preset;
    for (const id of this.viewportIds()) {
      const viewport = this.engine?.getViewport(id) as (Types.IVolumeViewport | Types.IStackViewport) | undefined;
      viewport?.setProperties({ voiRange: voiRange(preset) });
      if (render) viewport?.render();
    }
    this.status.textContent = `Window ${preset.name} (W${preset.width} L${preset.level})`;
  }

  private setOverlay(overlay: { opacity: number; outlineOnly: boolean }): void {
    this.overlay = overlay;
    setOverlayStyle(overlay);
  }

  private selectSegment(segment: number): void {
    if (!this.task?.schema.segments.some((s) => s.index === segment)) return;
    this.activeSegment = segment;
    this.toolbar?.setActiveSegment(segment);
    if (this.store) setActiveSegment(segment);
  }

  private readCursor(viewportId: string, element: HTMLElement, event: MouseEvent): void {
    const viewport = this.engine?.getViewport(viewportId) as (Types.IVolumeViewport | Types.IStackViewport) | undefined;
    if (!viewport) return;
    const rect = element.getBoundingClientRect();
    const world = viewport.canvasToWorld([event.clientX - rect.left, event.clientY - rect.top]);
    const slice = `Slice ${viewport.getSliceIndex() + 1}/${viewport.getNumberOfSlices()}`;
    let hu = "";
    const data = viewport.getImageData();
    if (data && "imageData" in data && data.imageData) {
      const [i, j, k] = csUtils.transformWorldToIndex(data.imageData, world);
      const dims = data.dimensions;
      if (i >= 0 && j >= 0 && k >= 0 && i < dims[0] && j < dims[1] && k < dims[2]) {
        const value = data.voxelManager?.getAtIJK(i, j, k);
        if (typeof value === "number") hu = ` · ${Math.round(value)} HU`;
      }
    }
    this.cursor.textContent = `${slice} · (${world.map((v) => v.toFixed(1)).join(", ")}) mm${hu}`;
  }

  private jumpTo(finding: Finding): void {
    const [x, y, z] = finding.centroid_mm;
    for (const id of this.viewportIds()) {
      const viewport = this.engine?.getViewport(id) as (Types.IVolumeViewport | Types.IStackViewport) | undefined;
      viewport?.jumpToWorld([x, y, z]);
    }
  }

  // ---------- editing ----------

  private undo(): void {
    if (this.editable) history.undo();
  }

  private redo(): void {
    if (this.editable) history.redo();
  }

  private interpolate(): void {
    if (!this.editable || !this.store || !this.wire) return;
    const wire = this.store.read();
    const [, rs, cs] = this.wire.spacing;
    const result = interpolateSlices(wire, this.wire.shape, this.activeSegment, { pixelSpacing: [rs, cs] });
    if (result.filled.length === 0) {
      this.toasts.show("Nothing to interpolate: draw the nodule on two slices with a gap between them.");
      return;
    }
    this.store.write(wire);
    pushVoxelChange(this.store, result.filled, new Uint8Array(result.filled.length), new Uint8Array(result.filled.length).fill(this.activeSegment));
    this.toasts.show(`Interpolated ${result.gaps.length} gap(s), ${result.filled.length} voxels.`, "ok");
  }

  private setAttribute(findingId: string, name: string, value: number | null): void {
    this.findings = this.findings.map((f) => {
      if (f.id !== findingId) return f;
      const attributes = { ...f.attributes };
      if (value === null) delete attributes[name];
      else attributes[name] = value;
      return { ...f, attributes };
    });
    this.saver?.markDirty();
  }

  private listen(): void {
    followStackUndo();
    // Cornerstone also reports redraws and our own loads as data changes; whether the user
    // changed anything is decided by comparing signatures in recomputeFindings.
    // Only the task labelmap's changes count (the diff and model layers report theirs too).
    eventTarget.addEventListener(ToolEnums.Events.SEGMENTATION_DATA_MODIFIED, (event: Event) => {
      const id = (event as CustomEvent<{ segmentationId?: string }>).detail?.segmentationId;
      if (id === undefined || id === this.store?.segmentationId) this.scheduleFindings(400);
    });
    document.addEventListener("keydown", (event) => this.onKey(event));
    const leave = (): void => {
      this.saver?.flushOnLeave();
    };
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") leave();
    });
    window.addEventListener("pagehide", leave);
    window.addEventListener("beforeunload", (event) => {
      if (this.saver?.isDirty) event.preventDefault();
    });
  }

  private scheduleFindings(delayMs: number): void {
    if (this.findingsTimer !== null) window.clearTimeout(this.findingsTimer);
    this.findingsTimer = window.setTimeout(() => {
      this.findingsTimer = null;
      this.recomputeFindings();
      void this.saver?.prepareLeave();
    }, delayMs);
  }

  private recomputeFindings(wireVoxels?: Uint8Array): void {
    if (!this.store || !this.wire) return;
    const grid = this.wire;
    const components = connectedComponents(wireVoxels ?? this.store.read(), grid.shape);
    this.signature = labelSignature(components);
    this.cleanSignature ??= this.signature;
    if (this.editable && this.signature !== this.cleanSignature) this.saver?.markDirty();
    const measured = components.map((component) => ({ component, measurement: measure(component, grid) }));
    this.findings = findingsFor(measured, this.findings, grid.shape, () => crypto.randomUUID());
    this.panel?.render(this.findings);
    if (this.diff === "on") void this.modelVoxels?.then((model) => model && this.updateDiff(model));
  }

  private async snapshot(): Promise<{ labelmap: Uint8Array; findings: Finding[] }> {
    if (!this.store || !this.wire) throw new Error("Nothing to save: the labelmap is not loaded");
    if (this.findingsTimer !== null) {
      window.clearTimeout(this.findingsTimer);
      this.findingsTimer = null;
      this.recomputeFindings();
    }
    const voxels = this.store.readSlices();
    const signature = this.signature;
    const snapshot = { labelmap: await encodeLabelmap(voxels, this.wire), findings: this.findings };
    this.savingFindingIds = this.findings.map((f) => f.id);
    this.cleanSignature = signature;
    return snapshot;
  }

  // ---------- saving, submitting ----------

  private showSaveState(state: SaveState, detail: string): void {
    this.saveState.textContent = detail;
    this.saveState.dataset["state"] = state;
  }

  private async conflict(error: ApiError): Promise<void> {
    const choice = await choose(
      this.dialogs,
      "Someone saved this task since you opened it",
      `${error.detail}. Reload to see their version (your unsaved changes are dropped), or keep yours as a new revision on top of theirs.`,
      [
        { label: "Reload", value: "reload" as const },
        { label: "Keep mine as a new revision", value: "keep" as const, primary: true },
      ],
    );
    if (choice === "reload") window.location.reload();
    else if (choice === "keep") await this.saver?.keepMine(error.latestId);
  }

  private async submit(): Promise<void> {
    try {
      if (this.saver?.isDirty && !(await this.saver.save())) return;
      const task = await this.api.submit(this.config.taskId);
      this.toasts.show(`Submitted for review (${stateLabel(task.state)}).`, "ok");
      this.applyTask(task);
      this.root.dispatchEvent(new CustomEvent("nf:task-changed"));
    } catch (error) {
      this.toasts.error(error);
    }
  }

  private async nextTask(): Promise<void> {
    if (this.saver?.isDirty && !(await this.saver.save())) return;
    window.location.assign(this.task?.next_url || "/tasks/next/");
  }

  private toggleHelp(): void {
    this.help ??= shortcutSheet(this.dialogs, SHORTCUTS);
    if (this.help.open) this.help.close();
    else this.help.showModal();
  }

  // ---------- keys ----------

  private onKey(event: KeyboardEvent): void {
    const target = event.target;
    const inEditable =
      target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName));
    const action = actionForKey({ key: event.key, ctrlKey: event.ctrlKey, metaKey: event.metaKey, shiftKey: event.shiftKey, altKey: event.altKey, inEditable });
    if (!action) return;
    if (this.handle(action)) event.preventDefault();
  }

  private handle(action: Action): boolean {
    switch (action.kind) {
      case "preset":
        this.applyPreset(action.preset);
        return true;
      case "tool":
        this.activateTool(action.tool);
        return true;
      case "brushSize": {
        const size = this.tools?.stepBrushSize(action.step);
        if (size !== undefined) this.toolbar?.setBrushSize(size);
        return true;
      }
      case "undo":
        this.undo();
        return true;
      case "redo":
        this.redo();
        return true;
      case "interpolate":
        this.interpolate();
        return true;
      case "save":
        void this.saver?.save({ force: this.editable });
        return true;
      case "help":
        this.toggleHelp();
        return true;
      case "layout":
        this.switchLayout(this.layout === "axial" ? "mpr" : this.layout === "mpr" ? "axial" : "stack");
        return true;
      case "uncertainty":
        this.uncertainty?.toggle();
        return this.uncertainty !== null;
      case "modelOverlay":
        void this.toggleModel();
        return true;
      case "diff":
        void this.toggleDiff();
        return true;
      case "outline": {
        const outlineOnly = this.toolbar?.toggleOutline() ?? false;
        this.setOverlay({ ...this.overlay, outlineOnly });
        return true;
      }
      case "segment":
        this.selectSegment(action.index);
        return true;
      case "slice": {
        const viewport = this.engine?.getViewport(this.viewportIds()[0] ?? "") as (Types.IVolumeViewport | Types.IStackViewport) | undefined;
        if (viewport) csUtils.scroll(viewport as unknown as Parameters<typeof csUtils.scroll>[0], { delta: action.step });
        return true;
      }
      case "close":
        this.help?.close();
        return false;
    }
  }
}


/**
 * Load a volume's frames nearest its middle slice first (the slice an axial view opens on), and
 * leave redrawing to the viewer: Cornerstone's default redraws every viewport each time 2 % of
 * the frames arrive, and each redraw costs tens of milliseconds (hundreds with software WebGL).
 * Returns the imageId loaded first.
 */
function streamNearestFirst(volume: Types.IImageVolume): string {
  const middle = (volume.imageIds.length - 1) / 2;
  const loader: Types.IImagesLoader = {
    loadImages(imageIds, listener) {
      const order = nearestFirst(imageIds.length, middle);
      const requests = order.map(
        (index) =>
          new Promise<void>((resolve) => {
            const imageId = imageIds[index] ?? "";
            // The volume's own options: its scaling and the buffer each frame is written into.
            const options = {
              priority: 0,
              requestType: Enums.RequestType.Prefetch,
              ...listener.getLoaderImageOptions?.(imageId),
            } as Parameters<typeof imageLoader.loadAndCacheImage>[1];
            const load = (): Promise<void> =>
              imageLoader
                .loadAndCacheImage(imageId, options)
                .then(
                  (image) => listener.successCallback(imageId, image),
                  (error: unknown) => listener.errorCallback(imageId, true, error),
                )
                .finally(resolve);
            // One priority for all: the pool sends them in the order they were added.
            imageLoadPoolManager.addRequest(load, Enums.RequestType.Prefetch, { imageId }, 0);
          }),
      );
      return Promise.all(requests);
    },
  };
  csUtils.imageRetrieveMetadataProvider.add(volume.volumeId, { create: () => loader });
  // A protected field of Cornerstone's streaming volume; the viewer renders as frames arrive.
  (volume as unknown as { autoRenderOnLoad: boolean }).autoRenderOnLoad = false;
  (volume as unknown as Types.IStreamingImageVolume).load();
  return volume.imageIds[nearestFirst(volume.imageIds.length, middle)[0] ?? 0] ?? "";
}

/** What to show of a failure: the server's `detail` for a refused request, else the message. */
function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.detail;
  return error instanceof Error ? error.message : String(error);
}
