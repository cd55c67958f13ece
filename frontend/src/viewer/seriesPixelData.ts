// A series' frames in a few requests: the series' pixel data resource (PS3.18 10.4.1.1.6),
// `{series}/pixeldata?SOPInstanceUID=...`, one multipart part per frame, each part naming its
// frame in Content-Location. One request per frame cost more than the frames themselves: on a
// 2-core machine the browser and the server took 750-900 ms for 140 frame requests and about
// 250 ms for the same 73 MB in one response. A handful of requests keeps the browser's six
// connections busy and lets each response be cached (a fixed list of stored instances).
//
// A frame a response lacks (a failed request, a part that cannot be read) is asked for on its
// own; one that fails again is delivered as failed, and the viewer's loader reports it.

import { boundaryOf } from "./framePart";
import { FRAME_ACCEPT, fetchFrame, type FrameBody } from "./frameRequest";
import { MultipartStreamReader } from "./multipartStream";

/** Frames per request: 16 CT slices are 8 MB, and their UIDs fit a request line. */
export const FRAMES_PER_REQUEST = 16;
/** Well under the request-line limits of servers and proxies (gunicorn's is 4 KB). */
const MAX_URL_LENGTH = 2000;

export interface PixelDataRequest {
  readonly url: string;
  /** The frames it answers, by their own frame URLs. */
  readonly frames: readonly string[];
}

interface FrameAddress {
  readonly series: string;
  readonly sop: string;
  /** What names the frame in a response: the end of its URL, `{sop}/frames/{n}`. */
  readonly key: string;
}

/** `{series}/instances/{sop}/frames/{n}` split up (a path or a whole URL); null for any other. */
function addressOf(url: string): FrameAddress | null {
  const match = /^(.*)\/instances\/([^/?#]+)\/frames\/(\d+)$/.exec(url);
  if (!match) return null;
  const [, series = "", sop = "", number = ""] = match;
  return { series, sop, key: `${sop}/frames/${number}` };
}

/** What names one frame in a response, from its URL or its part's Content-Location. */
export function frameKey(url: string): string | null {
  return addressOf(url)?.key ?? null;
}

/**
 * Group `urls` (frame URLs, in the order wanted) into pixel data requests, keeping that order:
 * consecutive frames of one series, FRAMES_PER_REQUEST at most, each URL short enough. URLs that
 * name no frame come back in `alone` (asked for one by one).
 */
export function pixelDataRequests(urls: readonly string[], perRequest = FRAMES_PER_REQUEST): { requests: PixelDataRequest[]; alone: string[] } {
  const requests: PixelDataRequest[] = [];
  const alone: string[] = [];
  let series = "";
  let sops: string[] = [];
  let frames: string[] = [];
  const url = (): string => `${series}/pixeldata?SOPInstanceUID=${sops.join(",")}`;
  const flush = (): void => {
    if (frames.length > 0) requests.push({ url: url(), frames });
    sops = [];
    frames = [];
  };
  for (const frame of urls) {
    const address = addressOf(frame);
    if (address === null) {
      alone.push(frame);
      continue;
    }
    const known = address.series === series && sops.includes(address.sop);
    if (!known) {
      const full = sops.length >= perRequest || url().length + address.sop.length + 1 > MAX_URL_LENGTH;
      if (address.series !== series || full) flush();
      series = address.series;
      sops.push(address.sop);
    }
    frames.push(frame);
  }
  flush();
  return { requests, alone };
}

/** Fetch every frame of `urls` through pixel data requests, delivering each as its part is in. */
export async function fetchSeriesFrames(urls: readonly string[], fetcher: typeof fetch, deliver: (url: string, body: FrameBody | null) => void): Promise<void> {
  const { requests, alone } = pixelDataRequests(urls);
  const single = (url: string): Promise<void> => fetchFrame(url, fetcher).then((body) => deliver(url, body));
  await Promise.all([...requests.map((request) => fetchPixelData(request, fetcher, deliver).then((missed) => Promise.all(missed.map(single)))), ...alone.map(single)]);
}

/** One pixel data request; resolves to the frames it did not deliver. */
async function fetchPixelData(request: PixelDataRequest, fetcher: typeof fetch, deliver: (url: string, body: FrameBody) => void): Promise<string[]> {
  const waiting = new Map<string, string>();
  for (const url of request.frames) waiting.set(frameKey(url) ?? url, url);
  let stream: ReadableStreamDefaultReader<Uint8Array> | null = null;
  try {
    const response = await fetcher(request.url, { headers: { Accept: FRAME_ACCEPT }, credentials: "same-origin" });
    if (!response.ok || response.body === null) return [...waiting.values()];
    const reader = new MultipartStreamReader(boundaryOf(response.headers.get("Content-Type") ?? ""), ({ headers, body }) => {
      const key = frameKey(headers.get("content-location") ?? "");
      const url = key === null ? undefined : waiting.get(key);
      if (key === null || url === undefined) return; // a frame not asked for here
      waiting.delete(key);
      deliver(url, { contentType: headers.get("content-type") ?? "", bytes: body });
    });
    stream = response.body.getReader();
    for (;;) {
      const { done, value } = await stream.read();
      if (done) break;
      reader.push(value);
    }
    reader.end();
  } catch {
    // A broken body or connection: what was delivered stands, the rest is asked for alone
    // (and the rest of an unreadable body is not downloaded for nothing).
    void stream?.cancel().catch(() => undefined);
  }
  return [...waiting.values()];
}
