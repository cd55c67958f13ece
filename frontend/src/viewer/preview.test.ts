import { describe, expect, test } from "vitest";

import type { FramePart } from "./framePart";
import { FramePrefetch, fetchHere } from "./framePrefetch";
import { decodeFrame, loadPreview, previewFrame, windowed } from "./preview";
import { LUNG } from "./presets";
import { framesFromMetadata, type DicomJson } from "./series";

function instance(sop: string, z: number, extra: DicomJson = {}): DicomJson {
  return {
    "00080018": { vr: "UI", Value: [sop] },
    "00200032": { vr: "DS", Value: [-100, -120, z] },
    "00200037": { vr: "DS", Value: [1, 0, 0, 0, 1, 0] },
    "00280010": { vr: "US", Value: [2] },
    "00280011": { vr: "US", Value: [3] },
    "00280030": { vr: "DS", Value: [0.7, 0.7] },
    "00280100": { vr: "US", Value: [16] },
    "00280103": { vr: "US", Value: [1] },
    "00281052": { vr: "DS", Value: [-1024] },
    "00281053": { vr: "DS", Value: [1] },
    ...extra,
  };
}

const BASE = "http://x/dicomweb/projects/1/studies/1.2/series/1.2.3";

function part(syntax: string, stored: readonly number[]): FramePart {
  const pixelData = new Uint8Array(stored.length * 2);
  const view = new DataView(pixelData.buffer);
  stored.forEach((v, i) => view.setInt16(2 * i, v, true));
  return { transferSyntax: syntax, pixelData };
}

describe("previewFrame", () => {
  test("the middle slice along the normal is the one previewed", () => {
    const { frames } = framesFromMetadata([instance("a", 10), instance("b", 0), instance("c", 5)], BASE);
    expect(previewFrame(frames)?.sopInstanceUid).toBe("c");
  });

  test("a series that is not axial is left to Cornerstone", () => {
    const sagittal = { "00200037": { vr: "DS", Value: [0, 1, 0, 0, 0, -1] } };
    const { frames } = framesFromMetadata([instance("a", 0, sagittal)], BASE);
    expect(previewFrame(frames)).toBeNull();
  });

  test("8-bit images are left to Cornerstone", () => {
    const { frames } = framesFromMetadata([instance("a", 0, { "00280100": { vr: "US", Value: [8] } })], BASE);
    expect(previewFrame(frames)).toBeNull();
  });
});

describe("decodeFrame", () => {
  const frame = framesFromMetadata([instance("a", 0)], BASE).frames[0]!;

  test("stored values come out rescaled to modality values", () => {
    const image = decodeFrame(part("1.2.840.10008.1.2.1", [0, 1024, 2024, -1000, 24, 1]), frame);
    expect(image?.rows).toBe(2);
    expect(image?.columns).toBe(3);
    expect(Array.from(image?.values ?? [])).toEqual([-1024, 0, 1000, -2024, -1000, -1023]);
  });

  test("a compressed frame is not decoded here", () => {
    expect(decodeFrame(part("1.2.840.10008.1.2.4.70", [0, 0, 0, 0, 0, 0]), frame)).toBeNull();
  });

  test("a frame shorter than its rows and columns is refused", () => {
    expect(decodeFrame(part("1.2.840.10008.1.2.1", [0, 0, 0]), frame)).toBeNull();
  });
});

describe("loadPreview", () => {
  test("reads the frame's prefetched body and leaves it for the viewer", async () => {
    const { frames } = framesFromMetadata([instance("a", 0)], BASE);
    const url = `${BASE}/instances/a/frames/1`;
    let requests = 0;
    const fetcher = (async () => {
      requests++;
      return new Response(new Uint8Array(64), { headers: { "Content-Type": "multipart/related; boundary=b" } });
    }) as typeof fetch;
    const prefetch = new FramePrefetch([url], fetchHere(fetcher), fetcher);
    // A body that is not a frame part: nothing to draw, and no request of its own.
    expect(await loadPreview(frames[0] ?? null, prefetch)).toBeNull();
    expect(requests).toBe(1);
    expect(prefetch.take(url)).not.toBeNull();
  });
});

describe("windowed", () => {
  test("the lung window maps its lower and upper bounds to black and white", () => {
    const values = new Float32Array([-1350, 150, -600]);
    const rgba = windowed({ rows: 1, columns: 3, values, spacing: [1, 1], monochrome1: false }, LUNG);
    expect([rgba[0], rgba[4], rgba[8], rgba[11]]).toEqual([0, 255, 128, 255]);
  });
});
