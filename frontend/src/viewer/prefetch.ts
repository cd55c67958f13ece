// The requests a task page needs before it can show anything — the task and the series'
// metadata (whose UIDs the page carries) side by side, then the latest revision's labelmap and
// every frame of the series — sent from the entry module, while the viewer's code (Cornerstone
// and vtk.js, most of the bundle) is still being fetched and compiled. The viewer awaits the
// promises; it reports their errors as its own.

import { AnnotationsApi, ApiError, errorFromResponse } from "../api/client";
import type { Revision, Task } from "../api/types";
import { decodeLabelmap, type Labelmap } from "../segmentation/wire";
import { FramePrefetch, fetchHere, frameSpecs, frameUrls, type EarlyFrame, type FrameSource } from "./framePrefetch";
import { fetchFrame } from "./frameRequest";
import { fetchInWorker } from "./frameWorker";
import { framesFromMetadata, seriesUrl, type DicomJson } from "./series";

export interface PrefetchConfig {
  readonly taskId: string;
  readonly apiRoot: string;
  readonly dicomwebRoot: string;
  /** A past revision to show instead of the latest. */
  readonly revisionId?: number | null;
  /** The series' UIDs, when the page gives them: its metadata need not wait for the task. */
  readonly studyUid?: string;
  readonly seriesUid?: string;
  /**
   * The slice the viewer opens on, as the page names it (imaging.selectors.opening_slice): its
   * frame is requested now, beside the metadata, instead of once the metadata has named it.
   */
  readonly openingSlice?: string;
}

export interface Prefetched {
  readonly task: Promise<Task>;
  /** The series' WADO-RS base URL and its metadata (one DICOM JSON dataset per instance). */
  readonly metadata: Promise<{ readonly base: string; readonly instances: DicomJson[] }>;
  /**
   * The labelmap of the revision shown (the latest, or the one asked for), decoded and checked;
   * null when there is none. Its bytes are fetched at once, but decoded only when first asked
   * for: inflating and hashing 35 MB holds the main thread for a quarter of a second (the
   * browser's DecompressionStream runs there), which must not come before the first image or
   * hold up Cornerstone's start and the frames' decoding.
   */
  readonly labelmap: () => Promise<Labelmap | null>;
  /** Every revision of the task, newest first (the model's pre-annotation is among them). */
  readonly revisions: Promise<Revision[]>;
  /** Every frame of the series, requested once the metadata names them (framePrefetch.ts). */
  readonly frames: Promise<FramePrefetch>;
}

export function prefetch(
  config: PrefetchConfig,
  api = new AnnotationsApi(config.apiRoot),
  fetcher: typeof fetch = fetch,
  frameSource: FrameSource = fetchInWorker() ?? fetchHere(fetcher),
): Prefetched {
  const task = api.task(config.taskId);
  const { studyUid, seriesUid } = config;
  const metadata =
    studyUid && seriesUid
      ? seriesMetadata(config.dicomwebRoot, studyUid, seriesUid, fetcher)
      : task.then((t) => seriesMetadata(config.dicomwebRoot, t.series.study_instance_uid, t.series.series_instance_uid, fetcher));
  const labelmapBytes = task.then((t) => {
    const id = config.revisionId ?? t.latest_revision?.id;
    return id === undefined ? null : api.labelmap(id);
  });
  let decoded: Promise<Labelmap | null> | null = null;
  const labelmap = (): Promise<Labelmap | null> => (decoded ??= labelmapBytes.then((bytes) => (bytes === null ? null : decodeLabelmap(bytes))));
  const revisions = api.revisions(config.taskId);
  const opening = openingFrame(config, fetcher);
  const frames = metadata.then(({ base, instances }) => {
    const series = framesFromMetadata(instances, base).frames;
    return new FramePrefetch(frameUrls(series), frameSource, fetcher, frameSpecs(series, instances), opening);
  });
  // Awaited later, by the viewer; until then a failure is not an unhandled rejection.
  for (const promise of [task, metadata, labelmapBytes, revisions, frames]) promise.catch(() => undefined);
  return { task, metadata, labelmap, revisions, frames };
}

/** The opening slice's frame, requested now (null when the page does not name it). */
function openingFrame(config: PrefetchConfig, fetcher: typeof fetch): EarlyFrame | null {
  const { studyUid, seriesUid, openingSlice } = config;
  if (!studyUid || !seriesUid || !openingSlice) return null;
  const url = `${seriesUrl(config.dicomwebRoot, studyUid, seriesUid, window.location.origin)}/instances/${openingSlice}/frames/1`;
  return { url, body: fetchFrame(url, fetcher) };
}

async function seriesMetadata(dicomwebRoot: string, study: string, series: string, fetcher: typeof fetch): Promise<{ base: string; instances: DicomJson[] }> {
  const base = seriesUrl(dicomwebRoot, study, series, window.location.origin);
  let response: Response;
  try {
    response = await fetcher(`${base}/metadata`, { headers: { Accept: "application/dicom+json" }, credentials: "same-origin" });
  } catch (error) {
    throw new ApiError(0, "network", String(error), null, "Could not load the series: the server could not be reached");
  }
  if (!response.ok) throw await errorFromResponse(response, "Could not load the series");
  return { base, instances: (await response.json()) as DicomJson[] };
}
