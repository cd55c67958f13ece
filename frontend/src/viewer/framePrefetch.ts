// Every frame of the series, requested by the entry module as soon as the metadata names them,
// in the order the viewer wants them (the middle slice first, then outwards): the first on its
// own, the rest through the series' pixel data resource (seriesPixelData.ts).
// Without this the frames would wait for Cornerstone's chunk to be fetched, compiled and run,
// and for the volume to be built: half a second of an idle network on a cold load. The
// viewer's image loader (frameLoader.ts) takes each body from here instead of asking again.
//
// The requests run in a worker (frameWorker.ts) where there is one: a response body is read by
// the thread that asked for it, and the page's main thread is busy for hundreds of
// milliseconds running Cornerstone's chunk just when the frames arrive.

import { fetchFrame, type FrameBody } from "./frameRequest";
import { nearestFirst } from "./loadOrder";
import { seriesPixelSpecs, type PixelSpec } from "./nativePixels";
import { fetchSeriesFrames } from "./seriesPixelData";
import type { DicomJson, Frame } from "./series";

/**
 * Where bodies come from: it requests `urls` in their order and calls `deliver` once per URL
 * (null: failed). A source may decode the frames `specs` describes (frameWorker.ts does).
 */
export type FrameSource = (urls: readonly string[], deliver: (url: string, body: FrameBody | null) => void, specs: ReadonlyMap<string, PixelSpec>) => void;

/** A frame requested before the series' frames were known (the page named it). */
export interface EarlyFrame {
  readonly url: string;
  readonly body: Promise<FrameBody | null>;
}

export class FramePrefetch {
  private readonly bodies = new Map<string, Promise<FrameBody | null>>();

  /**
   * Request `urls` in their order, a repeated URL once: the first from this thread at once
   * (the frame on screen: nothing competes with it for the server or the network), then all
   * the rest from `source`. The first is `early`'s request when it asked for that frame.
   */
  constructor(urls: readonly string[], source: FrameSource, fetcher: typeof fetch = fetch, specs: ReadonlyMap<string, PixelSpec> = new Map(), early: EarlyFrame | null = null) {
    const settle = new Map<string, (body: FrameBody | null) => void>();
    for (const url of urls) {
      if (!this.bodies.has(url)) this.bodies.set(url, new Promise((resolve) => settle.set(url, resolve)));
    }
    const deliver = (url: string, body: FrameBody | null): void => {
      settle.get(url)?.(body);
      settle.delete(url);
    };
    const [first, ...rest] = settle.keys();
    if (first === undefined) return;
    const firstBody = early?.url === first ? early.body : fetchFrame(first, fetcher);
    void firstBody.then((body) => {
      deliver(first, body);
      if (rest.length > 0) source(rest, deliver, specs);
    });
  }

  /** The body of `url` (null: the request failed), left for whoever takes it; null when not asked here. */
  peek(url: string): Promise<FrameBody | null> | null {
    return this.bodies.get(url) ?? null;
  }

  /** The body of `url`, handed over once: this prefetch lets go of it (70 MB for a series). */
  take(url: string): Promise<FrameBody | null> | null {
    const body = this.bodies.get(url) ?? null;
    this.bodies.delete(url);
    return body;
  }
}

/** A source that fetches on this thread. */
export function fetchHere(fetcher: typeof fetch = fetch): FrameSource {
  return (urls, deliver) => void fetchSeriesFrames(urls, fetcher, deliver);
}

/** Each frame's PixelSpec by its URL, where the whole series can be decoded as it arrives (nativePixels.ts). */
export function frameSpecs(frames: readonly Frame[], instances: readonly DicomJson[]): Map<string, PixelSpec> {
  const specs = seriesPixelSpecs(instances);
  const byUrl = new Map<string, PixelSpec>();
  if (specs === null) return byUrl;
  for (const frame of frames) {
    const spec = specs.get(frame.metadata);
    if (spec) byUrl.set(frameUrl(frame.imageId), spec);
  }
  return byUrl;
}

/** The URL a frame's imageId (wadors:<url>) names. */
export function frameUrl(imageId: string): string {
  return imageId.replace(/^wadors:/, "");
}

/**
 * The frames' URLs in the order the viewer loads a volume (app.ts): the middle slice, which an
 * axial view opens on and the preview draws, then outwards.
 */
export function frameUrls(frames: readonly Frame[]): string[] {
  return nearestFirst(frames.length, (frames.length - 1) / 2).flatMap((i) => {
    const frame = frames[i];
    return frame ? [frameUrl(frame.imageId)] : [];
  });
}
