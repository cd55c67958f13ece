// The worker of frameWorker.ts: requests the frames it is sent, in order (seriesPixelData.ts),
// decodes those it has a PixelSpec for (nativePixels.ts), and posts each back as it is read
// (transferred, not copied).

import { framePart } from "./framePart";
import type { FetchRequest, FrameMessage } from "./frameWorker";
import { NATIVE_SYNTAXES, decodeNative } from "./nativePixels";
import { fetchSeriesFrames } from "./seriesPixelData";

interface WorkerScope {
  onmessage: ((event: MessageEvent<FetchRequest>) => void) | null;
  postMessage(message: FrameMessage, transfer: Transferable[]): void;
}

const scope = self as unknown as WorkerScope;

scope.onmessage = ({ data }) => {
  void fetchSeriesFrames(data.urls, fetch, (url, body) => {
    const spec = data.specs.get(url);
    const part = body && spec ? framePart(body.contentType, body.bytes) : null;
    const decoded = part && spec && NATIVE_SYNTAXES.has(part.transferSyntax) ? decodeNative(part.pixelData, spec) : null;
    const receivedAt = performance.timeOrigin + performance.now();
    const contentType = body?.contentType ?? "";
    if (decoded) {
      scope.postMessage({ url, contentType, bytes: null, decoded, receivedAt }, [decoded.pixels.buffer]);
    } else {
      scope.postMessage({ url, contentType, bytes: body?.bytes ?? null, decoded: null, receivedAt }, body ? [body.bytes.buffer] : []);
    }
  });
};
