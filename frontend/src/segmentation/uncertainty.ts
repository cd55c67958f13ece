// The model's voxel-wise uncertainty (test-time augmentation / MC dropout variance), shown as a
// heat overlay over its pre-annotation. Pure parts only: the fetch, binning and colours. The
// Cornerstone side is uncertaintyOverlay.ts.
//
// GET {inference root}/revisions/<id>/uncertainty answers the labelmap wire format on the
// labelmap's grid, uint8 where 255 = variance 0.25 (the largest a probability can have), or 404
// when the revision has none.

import type { Types } from "@cornerstonejs/core";

import { ApiError, errorFromResponse } from "../api/client";
import { decodeLabelmap, type Labelmap } from "./wire";

/** The variance that 255 stands for (inference/services.py MAX_VARIANCE). */
export const MAX_VARIANCE = 0.25;

/** Lower variance bound of bins 1..4; below the first a voxel is transparent (bin 0). */
export const BIN_VARIANCES: readonly number[] = [0.01, 0.03, 0.06, 0.12];

export const BIN_COUNT = BIN_VARIANCES.length;

/** A variance as the stored uint8 (rounded as the server rounds it). */
export function varianceToByte(variance: number): number {
  return Math.max(0, Math.min(255, Math.round((variance / MAX_VARIANCE) * 255)));
}

/** The stored uint8 as a variance. */
export function byteToVariance(value: number): number {
  return (value / 255) * MAX_VARIANCE;
}

/** 256 entries: the bin (0..BIN_COUNT) of each stored byte. */
export function binTable(variances: readonly number[] = BIN_VARIANCES): Uint8Array {
  const lower = variances.map(varianceToByte);
  for (let i = 1; i < lower.length; i++) {
    if ((lower[i] ?? 0) <= (lower[i - 1] ?? 0)) throw new Error("uncertainty bins must rise");
  }
  const table = new Uint8Array(256);
  for (let value = 0; value < 256; value++) {
    let bin = 0;
    for (const bound of lower) if (value >= bound) bin++;
    table[value] = bin;
  }
  return table;
}

const DEFAULT_TABLE = binTable();

/** The bin of every voxel (0 = below the threshold, transparent; 1..4 rising). Same order. */
export function binUncertainty(values: Uint8Array, table: Uint8Array = DEFAULT_TABLE): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = table[values[i] ?? 0] ?? 0;
  return out;
}

/** Yellow → orange → red → magenta, more opaque as the variance rises; bin 0 transparent. */
export const HEAT_COLOURS: readonly Types.Color[] = [
  [0, 0, 0, 0],
  [255, 235, 59, 90],
  [255, 152, 0, 125],
  [244, 40, 30, 160],
  [236, 0, 200, 195],
];

export function heatLut(): Types.ColorLUT {
  return HEAT_COLOURS.map((c) => [c[0], c[1], c[2], c[3]] as Types.Color);
}

/** Legend text of each non-zero bin, e.g. "≥ 0.010" (variance). */
export function binLabels(variances: readonly number[] = BIN_VARIANCES): string[] {
  return variances.map((v, i) => {
    const next = variances[i + 1];
    return next === undefined ? `≥ ${v.toFixed(2)}` : `${v.toFixed(2)}–${next.toFixed(2)}`;
  });
}

/** /api/annotations → /api/inference (the two apps sit side by side under /api/). */
export function inferenceRoot(apiRoot: string): string {
  const trimmed = apiRoot.replace(/\/+$/, "");
  return /\/annotations$/.test(trimmed) ? trimmed.replace(/\/annotations$/, "/inference") : "/api/inference";
}

/** The revision's uncertainty map, decoded and checked; null when the server has none (404). */
export async function fetchUncertainty(
  root: string,
  revisionId: number,
  fetcher: typeof fetch = (input, init) => fetch(input, init),
): Promise<Labelmap | null> {
  const what = "Could not load the uncertainty map";
  let response: Response;
  try {
    response = await fetcher(`${root}/revisions/${revisionId}/uncertainty`, {
      method: "GET",
      // JSON too: DRF answers 406 to a bare octet-stream Accept, and errors come back as JSON.
      headers: { Accept: "application/octet-stream, application/json;q=0.9" },
      credentials: "same-origin",
    });
  } catch (error) {
    const detail = `the server could not be reached (${String(error)})`;
    throw new ApiError(0, "network", detail, null, `${what}: ${detail}`);
  }
  if (response.status === 404) return null;
  if (!response.ok) throw await errorFromResponse(response, what);
  return decodeLabelmap(new Uint8Array(await response.arrayBuffer()));
}
