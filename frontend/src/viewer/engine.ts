// Cornerstone start-up: core, the DICOM image loader (decoders in web workers, WASM codecs
// bundled by Vite and fetched from /static/ on first use) and the tools.

import { init as coreInit, isCornerstoneInitialized } from "@cornerstonejs/core";
import { init as loaderInit } from "@cornerstonejs/dicom-image-loader";
import { init as toolsInit } from "@cornerstonejs/tools";

let started = false;

export function startCornerstone(): void {
  if (started) return;
  // One WebGL context: every volume viewport draws in the first one anyway (so the volume's
  // texture is held once), and the default pool of seven costs memory and start-up time for
  // nothing, and counts against the browser's limit of live contexts per page.
  if (!isCornerstoneInitialized()) coreInit({ rendering: { webGlContextCount: 1 } } as Parameters<typeof coreInit>[0]);
  const cores = typeof navigator !== "undefined" ? navigator.hardwareConcurrency || 2 : 2;
  loaderInit({ maxWebWorkers: Math.max(1, Math.min(4, cores - 1)) });
  toolsInit();
  started = true;
}
