// Cornerstone start-up: core, the DICOM image loader (decoders in web workers, WASM codecs
// bundled by Vite and fetched from /static/ on first use) and the tools.

import { init as coreInit, isCornerstoneInitialized } from "@cornerstonejs/core";
import { init as loaderInit } from "@cornerstonejs/dicom-image-loader";
import { init as toolsInit } from "@cornerstonejs/tools";

let started = false;

export function startCornerstone(): void {
  if (started) return;
  if (!isCornerstoneInitialized()) coreInit();
  const cores = typeof navigator !== "undefined" ? navigator.hardwareConcurrency || 2 : 2;
  loaderInit({ maxWebWorkers: Math.max(1, Math.min(4, cores - 1)) });
  toolsInit();
  started = true;
}
