// Viewer entry: the Django task page renders
//   <div id="viewer" data-task-id data-api-root data-dicomweb-root data-study-uid data-series-uid
//        data-opening-slice data-autosave-seconds data-revision-id>
// and the History section (<details id="history" data-refresh-url>), which follows the viewer's saves.
// This module stays small; Cornerstone and the viewer load as a separate chunk.
import { parseRevisionId } from "./review/mode";
import { followHistory, followTaskState } from "./ui/history";
import "./ui/viewer.css";
import { prefetch } from "./viewer/prefetch";
import { loadPreview, previewFrame, type Preview } from "./viewer/preview";
import { framesFromMetadata } from "./viewer/series";

export interface MountConfig {
  readonly taskId: string;
  readonly apiRoot: string;
  readonly dicomwebRoot: string;
  /** The series' UIDs (empty when the page does not give them: then the task says). */
  readonly studyUid: string;
  readonly seriesUid: string;
  /** The SOPInstanceUID of the slice the viewer opens on, when the page names it (fetched at once). */
  readonly openingSlice: string;
  readonly autosaveSeconds: number;
  /** A past revision to show read-only (the page's ?revision=); null: the latest, to work on. */
  readonly revisionId: number | null;
}

export function readConfig(root: HTMLElement): MountConfig | string {
  const taskId = root.dataset["taskId"] ?? "";
  const dicomwebRoot = root.dataset["dicomwebRoot"] ?? "";
  if (!/^\d+$/.test(taskId)) return "The page did not say which task to open (data-task-id).";
  if (!dicomwebRoot) return "The page did not say where the images are (data-dicomweb-root).";
  const seconds = Number(root.dataset["autosaveSeconds"] ?? "30");
  const revisionId = parseRevisionId(root.dataset["revisionId"]);
  if (revisionId !== null && typeof revisionId === "object") return revisionId.problem;
  return {
    taskId,
    apiRoot: (root.dataset["apiRoot"] ?? "/api/annotations").replace(/\/+$/, ""),
    dicomwebRoot,
    studyUid: root.dataset["studyUid"] ?? "",
    seriesUid: root.dataset["seriesUid"] ?? "",
    openingSlice: root.dataset["openingSlice"] ?? "",
    autosaveSeconds: Number.isFinite(seconds) && seconds >= 0 ? seconds : 30,
    revisionId,
  };
}

const PREVIEW_WAIT_MS = 600;

/** Resolves once the next frame has been produced (a task queued from requestAnimationFrame runs after it). */
function afterNextPaint(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => window.setTimeout(resolve, 0)));
}

const root = document.querySelector<HTMLElement>("#viewer");
const history = document.querySelector<HTMLElement>("#history");
if (root !== null && history !== null) followHistory(root, history);
const taskState = document.querySelector<HTMLElement>("[data-task-state]");
if (root !== null && taskState !== null) followTaskState(root, taskState);
if (root !== null) {
  const config = readConfig(root);
  if (typeof config === "string") {
    root.dataset["state"] = "error";
    root.replaceChildren(Object.assign(document.createElement("p"), { className: "nf-banner", textContent: config }));
  } else {
    root.textContent = "Loading the viewer…";
    // The task, metadata and labelmap requests go out now, while the viewer's chunk loads.
    const early = prefetch(config);
    // The middle slice, drawn as soon as it arrives; the viewer takes it over and drops it once
    // its own viewport has drawn.
    const preview = Promise.all([early.metadata, early.frames])
      .then(([{ base, instances }, frames]) => loadPreview(previewFrame(framesFromMetadata(instances, base).frames), frames))
      .then((shown: Preview | null) => {
        if (shown && root.dataset["state"] === undefined) {
          root.replaceChildren(shown.element);
          shown.fit();
        }
        return shown;
      })
      .catch(() => null);
    // The viewer's chunk is already downloading (the page preloads it), but running it holds the
    // main thread for a few hundred milliseconds: it waits for the preview to be painted, a
    // moment at most. (On a warm load the chunk is in the cache and would run at once, before
    // the frame with the preview in it.)
    const painted = preview.then((shown) => (shown ? afterNextPaint() : null));
    const previewOrTimeout = Promise.race([painted, new Promise((resolve) => window.setTimeout(resolve, PREVIEW_WAIT_MS))]);
    previewOrTimeout
      .then(() => import("./viewer/app"))
      .then(({ Viewer }) => new Viewer(root, config, early, preview).start())
      .catch((error: unknown) => {
        console.error(error);
        root.replaceChildren(Object.assign(document.createElement("p"), { className: "nf-banner", textContent: `The viewer could not start: ${String(error)}` }));
      });
  }
}
