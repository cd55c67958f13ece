// Viewer entry: the Django task page renders
//   <div id="viewer" data-task-id data-api-root data-dicomweb-root data-autosave-seconds data-revision-id>
// This module stays small; Cornerstone and the viewer load as a separate chunk.
import { parseRevisionId } from "./review/mode";
import "./ui/viewer.css";
import { prefetch } from "./viewer/prefetch";

export interface MountConfig {
  readonly taskId: string;
  readonly apiRoot: string;
  readonly dicomwebRoot: string;
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
    autosaveSeconds: Number.isFinite(seconds) && seconds >= 0 ? seconds : 30,
    revisionId,
  };
}

const root = document.querySelector<HTMLElement>("#viewer");
if (root !== null) {
  const config = readConfig(root);
  if (typeof config === "string") {
    root.dataset["state"] = "error";
    root.replaceChildren(Object.assign(document.createElement("p"), { className: "nf-banner", textContent: config }));
  } else {
    root.textContent = "Loading the viewer…";
    // The task, metadata and labelmap requests go out now, while the viewer's chunk loads.
    const early = prefetch(config);
    import("./viewer/app")
      .then(({ Viewer }) => new Viewer(root, config, early).start())
      .catch((error: unknown) => {
        console.error(error);
        root.replaceChildren(Object.assign(document.createElement("p"), { className: "nf-banner", textContent: `The viewer could not start: ${String(error)}` }));
      });
  }
}
