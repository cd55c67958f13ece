// The frame requests of framePrefetch.ts, sent from a dedicated worker: its thread reads the
// bodies however long the page's main thread is busy, and hands each over without a copy.
// Started by the entry module before the metadata is in, so that its script is loaded by the
// time the frames' URLs are known.

import type { FrameSource } from "./framePrefetch";
import type { FrameBody } from "./frameRequest";
import type { DecodedFrame, PixelSpec } from "./nativePixels";

/** worker -> page: one frame's body or its decoded pixels (both null: its request failed). */
export interface FrameMessage {
  readonly url: string;
  readonly contentType: string;
  readonly bytes: Uint8Array | null;
  readonly decoded: DecodedFrame | null;
  /** When the worker had read the body, in ms since the epoch (performance.timeOrigin + now()). */
  readonly receivedAt: number;
}

/** page -> worker: what to fetch, in order, and how to decode the frames it can. */
export interface FetchRequest {
  readonly urls: readonly string[];
  readonly specs: ReadonlyMap<string, PixelSpec>;
}

/**
 * A source whose requests run in a worker, started now. Null where workers are not available;
 * if the worker fails, every frame it has not delivered is delivered as failed (the viewer's
 * loader then fetches those itself).
 */
export function fetchInWorker(): FrameSource | null {
  if (typeof Worker === "undefined") return null;
  let worker: Worker;
  try {
    worker = new Worker(new URL("./frameFetch.worker.ts", import.meta.url), { type: "module", name: "frame-fetch" });
  } catch {
    return null;
  }
  return (urls, deliver, specs) => {
    const waiting = new Set(urls);
    const give = (url: string, body: FrameBody | null): void => {
      if (!waiting.delete(url)) return;
      deliver(url, body);
      if (waiting.size === 0) worker.terminate();
    };
    worker.onmessage = ({ data }: MessageEvent<FrameMessage>) => {
      // The worker's requests are not in this page's Resource Timing: a mark says when each
      // body was in (benchmarks read it beside the page's own frame requests).
      if (data.bytes || data.decoded) performance.mark("nf:frame-received", { startTime: Math.max(0, data.receivedAt - performance.timeOrigin), detail: { url: data.url } });
      const { contentType, bytes, decoded } = data;
      give(data.url, decoded ? { contentType, bytes: new Uint8Array(0), decoded } : bytes ? { contentType, bytes } : null);
    };
    worker.onerror = worker.onmessageerror = () => {
      for (const url of [...waiting]) give(url, null);
    };
    const request: FetchRequest = { urls, specs };
    worker.postMessage(request);
  };
}
