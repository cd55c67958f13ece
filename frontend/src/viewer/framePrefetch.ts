// Every frame of the series, requested by the entry module as soon as the metadata names them,
// in the order the viewer wants them (the middle slice first, then outwards).
// Without this the frames would wait for Cornerstone's chunk to be fetched, compiled and run,
// and for the volume to be built: half a second of an idle network on a cold load. The
// viewer's image loader (frameLoader.ts) takes each body from here instead of asking again.
//
// The requests run in a worker (frameWorker.ts) where there is one: a response body is read by
// the thread that asked for it, and the page's main thread is busy for hundreds of
// milliseconds running Cornerstone's chunk just when the frames arrive.

import { nearestFirst } from "./loadOrder";
import type { Frame } from "./series";

/** Cornerstone's WADO-RS Accept header: the server answers with the frame's own syntax. */
export const FRAME_ACCEPT = "multipart/related; type=application/octet-stream; transfer-syntax=*";

export interface FrameBody {
  /** The response's Content-Type (multipart/related; boundary=...). */
  readonly contentType: string;
  readonly bytes: Uint8Array;
}

/** Where bodies come from: it requests `urls` in their order and calls `deliver` once per URL (null: failed). */
export type FrameSource = (urls: readonly string[], deliver: (url: string, body: FrameBody | null) => void) => void;

export class FramePrefetch {
  private readonly bodies = new Map<string, Promise<FrameBody | null>>();

  /**
   * Request `urls` in their order, a repeated URL once: the first from this thread at once
   * (the frame on screen: nothing competes with it for the server or the network), then all
   * the rest from `source`. All at once, not a few at a time: the browser queues them in that
   * order behind its six connections to the server, and on a warm load, where every frame is
   * in the HTTP cache, a cap here only kept reads of the cache waiting (measured: all frames
   * in 20 % later with four at a time).
   */
  constructor(urls: readonly string[], source: FrameSource, fetcher: typeof fetch = fetch) {
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
    void fetchFrame(first, fetcher).then((body) => {
      deliver(first, body);
      if (rest.length > 0) source(rest, deliver);
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

/** Request `urls` in their order, handing each body to `deliver` as it is read. */
export function fetchAll(urls: readonly string[], fetcher: typeof fetch, deliver: (url: string, body: FrameBody | null) => void): Promise<void> {
  return Promise.all(urls.map((url) => fetchFrame(url, fetcher).then((body) => deliver(url, body)))).then(() => undefined);
}

/** A source that fetches on this thread. */
export function fetchHere(fetcher: typeof fetch = fetch): FrameSource {
  return (urls, deliver) => void fetchAll(urls, fetcher, deliver);
}

/** One frame's response body; null for any failure (the viewer's loader then asks itself, and reports it). */
async function fetchFrame(url: string, fetcher: typeof fetch): Promise<FrameBody | null> {
  try {
    const response = await fetcher(url, { headers: { Accept: FRAME_ACCEPT }, credentials: "same-origin" });
    if (!response.ok) return null;
    return { contentType: response.headers.get("Content-Type") ?? "", bytes: new Uint8Array(await response.arrayBuffer()) };
  } catch {
    return null;
  }
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
