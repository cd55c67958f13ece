// The worker of frameWorker.ts: requests the frames it is sent, in order, and posts each body
// back as it is read (transferred, not copied).

import { fetchAll } from "./framePrefetch";
import type { FetchRequest, FrameMessage } from "./frameWorker";

interface WorkerScope {
  onmessage: ((event: MessageEvent<FetchRequest>) => void) | null;
  postMessage(message: FrameMessage, transfer: Transferable[]): void;
}

const scope = self as unknown as WorkerScope;

scope.onmessage = ({ data }) => {
  void fetchAll(data.urls, fetch, (url, body) => {
    const message: FrameMessage = { url, contentType: body?.contentType ?? "", bytes: body?.bytes ?? null, receivedAt: performance.timeOrigin + performance.now() };
    scope.postMessage(message, body ? [body.bytes.buffer] : []);
  });
};
