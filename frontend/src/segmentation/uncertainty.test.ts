import { describe, expect, it } from "vitest";

import { ApiError } from "../api/client";
import { SHORTCUTS, actionForKey } from "../tools/keymap";
import {
  BIN_COUNT,
  BIN_VARIANCES,
  HEAT_COLOURS,
  MAX_VARIANCE,
  binLabels,
  binTable,
  binUncertainty,
  byteToVariance,
  fetchUncertainty,
  heatLut,
  inferenceRoot,
  varianceToByte,
} from "./uncertainty";
import { encodeLabelmap, type GridHeader } from "./wire";

const GRID: GridHeader = {
  shape: [2, 2, 3],
  spacing: [2.5, 0.7, 0.7],
  origin: [-170, -180, -300],
  direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
  series: "1.2.3",
};

describe("bytes and variances", () => {
  it("maps 255 to the largest variance of a probability, as the server quantises", () => {
    expect(MAX_VARIANCE).toBe(0.25);
    expect(varianceToByte(0.25)).toBe(255);
    expect(varianceToByte(1)).toBe(255);
    expect(varianceToByte(-0.1)).toBe(0);
    expect(varianceToByte(0.125)).toBe(128); // np.rint(127.5) would be 128 too
    expect(byteToVariance(255)).toBeCloseTo(0.25);
    expect(byteToVariance(0)).toBe(0);
  });
});

describe("binUncertainty", () => {
  it("puts everything below the threshold in bin 0 and rises to bin 4", () => {
    const bounds = BIN_VARIANCES.map(varianceToByte);
    expect(bounds).toEqual([10, 31, 61, 122]);
    const values = Uint8Array.from([0, 9, 10, 30, 31, 60, 61, 121, 122, 200, 255]);
    expect(Array.from(binUncertainty(values))).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4]);
  });

  it("is monotonic over every byte and keeps length and order", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const bins = binUncertainty(all);
    expect(bins.length).toBe(256);
    for (let i = 1; i < 256; i++) expect(bins[i]).toBeGreaterThanOrEqual(bins[i - 1] ?? 0);
    expect(bins[0]).toBe(0);
    expect(bins[255]).toBe(BIN_COUNT);
    expect(new Set(bins).size).toBe(BIN_COUNT + 1);
  });

  it("takes other bounds, and refuses bounds that do not rise", () => {
    const table = binTable([0.125]);
    expect(Array.from(binUncertainty(Uint8Array.from([127, 128, 255]), table))).toEqual([0, 1, 1]);
    expect(() => binTable([0.1, 0.05])).toThrow(/rise/);
    expect(() => binTable([0.1, 0.1])).toThrow(/rise/);
  });
});

describe("heatLut", () => {
  it("is transparent at 0 and goes yellow → orange → red → magenta, more opaque as it rises", () => {
    const lut = heatLut();
    expect(lut).toHaveLength(BIN_COUNT + 1);
    expect(lut[0]).toEqual([0, 0, 0, 0]);
    const [yellow, orange, red, magenta] = lut.slice(1);
    expect(yellow?.[0]).toBe(255);
    expect(yellow?.[1]).toBeGreaterThan(200); // yellow: red and green high
    expect(orange?.[1]).toBeLessThan(yellow?.[1] ?? 0);
    expect(red?.[1]).toBeLessThan(orange?.[1] ?? 0);
    expect(magenta?.[2]).toBeGreaterThan(150); // magenta: blue back up
    const alphas = lut.slice(1).map((c) => c[3]);
    for (let i = 1; i < alphas.length; i++) expect(alphas[i]).toBeGreaterThan(alphas[i - 1] ?? 0);
    for (const a of alphas) {
      expect(a).toBeGreaterThan(0);
      expect(a).toBeLessThan(255); // semi-transparent: the CT stays visible underneath
    }
  });

  it("hands out a fresh copy each time", () => {
    const lut = heatLut();
    (lut[1] as number[])[0] = 0;
    expect(HEAT_COLOURS[1]?.[0]).toBe(255);
  });

  it("labels each bin", () => {
    expect(binLabels()).toEqual(["0.01–0.03", "0.03–0.06", "0.06–0.12", "≥ 0.12"]);
  });
});

describe("inferenceRoot", () => {
  it("sits beside the annotations API", () => {
    expect(inferenceRoot("/api/annotations")).toBe("/api/inference");
    expect(inferenceRoot("/api/annotations/")).toBe("/api/inference");
    expect(inferenceRoot("/prefix/api/annotations")).toBe("/prefix/api/inference");
    expect(inferenceRoot("/somewhere/else")).toBe("/api/inference");
  });
});

describe("fetchUncertainty", () => {
  function fetcher(response: () => Response, seen: Array<{ url: string; init?: RequestInit }> = []): typeof fetch {
    return (input, init) => {
      seen.push({ url: String(input), ...(init ? { init } : {}) });
      return Promise.resolve(response());
    };
  }

  it("decodes the map of a revision", async () => {
    const voxels = Uint8Array.from([0, 5, 10, 40, 80, 255, 0, 0, 0, 0, 0, 1]);
    const payload = await encodeLabelmap(voxels, GRID);
    const seen: Array<{ url: string; init?: RequestInit }> = [];
    const map = await fetchUncertainty("/api/inference", 7, fetcher(() => new Response(payload as Uint8Array<ArrayBuffer>), seen));
    expect(map?.header.shape).toEqual([2, 2, 3]);
    expect(Array.from(map?.voxels ?? [])).toEqual(Array.from(voxels));
    expect(seen[0]?.url).toBe("/api/inference/revisions/7/uncertainty");
    expect(new Headers(seen[0]?.init?.headers).get("Accept")).toContain("application/octet-stream");
    expect(new Headers(seen[0]?.init?.headers).get("Accept")).toContain("application/json");
    expect(seen[0]?.init?.credentials).toBe("same-origin");
  });

  it("answers null for a revision without one (404)", async () => {
    const body = JSON.stringify({ code: "not_found", detail: "this revision has no uncertainty map" });
    expect(await fetchUncertainty("/api/inference", 7, fetcher(() => new Response(body, { status: 404 })))).toBeNull();
  });

  it("throws the server's detail on other errors", async () => {
    const body = JSON.stringify({ code: "permission_denied", detail: "You do not have permission." });
    const error = await fetchUncertainty("/api/inference", 7, fetcher(() => new Response(body, { status: 403 }))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(403);
    expect((error as ApiError).message).toBe("Could not load the uncertainty map: You do not have permission.");
  });

  it("throws on a network failure and on a corrupt payload", async () => {
    const down: typeof fetch = () => Promise.reject(new TypeError("Failed to fetch"));
    await expect(fetchUncertainty("/api/inference", 7, down)).rejects.toThrow(/could not be reached/);
    await expect(fetchUncertainty("/api/inference", 7, fetcher(() => new Response("nope")))).rejects.toThrow(/NFLM/);
  });
});

describe("the U key", () => {
  it("toggles the overlay, not in text fields, and is on the sheet", () => {
    expect(actionForKey({ key: "u" })).toEqual({ kind: "uncertainty" });
    expect(actionForKey({ key: "U" })).toEqual({ kind: "uncertainty" });
    expect(actionForKey({ key: "u", inEditable: true })).toBeUndefined();
    expect(actionForKey({ key: "u", ctrlKey: true })).toBeUndefined();
    expect(SHORTCUTS.some((s) => s.keys === "U")).toBe(true);
  });
});
