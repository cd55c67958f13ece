// One frame asked for on its own (WADO-RS frames resource): the frame on screen first, and any
// frame a series pixel data response lacked (seriesPixelData.ts).

import type { DecodedFrame } from "./nativePixels";

/** Cornerstone's WADO-RS Accept header: the server answers with the frame's own syntax. */
export const FRAME_ACCEPT = "multipart/related; type=application/octet-stream; transfer-syntax=*";

export interface FrameBody {
  /**
   * The Content-Type of what `bytes` holds: a frame response (multipart/related; boundary=...)
   * or one part of a pixel data response (application/octet-stream; transfer-syntax=...).
   */
  readonly contentType: string;
  /** The bytes as received (empty when `decoded` holds the frame). */
  readonly bytes: Uint8Array;
  /** The frame decoded already, where it is a native grayscale frame (nativePixels.ts). */
  readonly decoded?: DecodedFrame;
}

/** One frame's response body; null for any failure (the viewer's loader then asks itself, and reports it). */
export async function fetchFrame(url: string, fetcher: typeof fetch): Promise<FrameBody | null> {
  try {
    const response = await fetcher(url, { headers: { Accept: FRAME_ACCEPT }, credentials: "same-origin" });
    if (!response.ok) return null;
    return { contentType: response.headers.get("Content-Type") ?? "", bytes: new Uint8Array(await response.arrayBuffer()) };
  } catch {
    return null;
  }
}
