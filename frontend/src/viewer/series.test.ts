import { describe, expect, test } from "vitest";

import { framesFromMetadata, seriesUrl, type DicomJson } from "./series";

function instance(sop: string, z: number, number: number, extra: DicomJson = {}): DicomJson {
  return {
    "00080018": { vr: "UI", Value: [sop] },
    "00200013": { vr: "IS", Value: [number] },
    "00200032": { vr: "DS", Value: [-100, -120, z] },
    "00200037": { vr: "DS", Value: [1, 0, 0, 0, 1, 0] },
    "00280010": { vr: "US", Value: [512] },
    "00280011": { vr: "US", Value: [512] },
    "00280030": { vr: "DS", Value: [0.7, 0.7] },
    ...extra,
  };
}

const BASE = "http://x/dicomweb/projects/1/studies/1.2/series/1.2.3";

describe("framesFromMetadata", () => {
  test("frames come out ascending along the normal whatever the metadata order", () => {
    const { frames, uniform } = framesFromMetadata(
      [instance("a", -290, 1), instance("b", -300, 3), instance("c", -295, 2)],
      BASE,
    );
    expect(uniform).toBe(true);
    expect(frames.map((f) => f.sopInstanceUid)).toEqual(["b", "c", "a"]);
    expect(frames[0]?.imageId).toBe(`wadors:${BASE}/instances/b/frames/1`);
  });

  test("mixed sizes are not uniform and fall back to instance number order", () => {
    const { frames, uniform, problem } = framesFromMetadata(
      [instance("a", 1, 2), instance("b", 0, 1, { "00280010": { vr: "US", Value: [256] } })],
      BASE,
    );
    expect(uniform).toBe(false);
    expect(problem).toBe("images have different sizes");
    expect(frames.map((f) => f.sopInstanceUid)).toEqual(["b", "a"]);
  });

  test("missing positions are named", () => {
    const noPosition = instance("a", 0, 1);
    delete noPosition["00200032"];
    expect(framesFromMetadata([noPosition], BASE).problem).toBe("some images lack a position or orientation");
  });

  test("a multi-frame instance gives one imageId per frame", () => {
    const { frames } = framesFromMetadata([instance("m", 0, 1, { "00280008": { vr: "IS", Value: ["3"] } })], BASE);
    expect(frames.map((f) => f.imageId.split("/").pop())).toEqual(["1", "2", "3"]);
  });

  test("an empty series says so", () => {
    expect(framesFromMetadata([], BASE).problem).toBe("the series has no images");
  });
});

describe("seriesUrl", () => {
  test("makes the root absolute and drops a trailing slash", () => {
    expect(seriesUrl("/dicomweb/projects/4/", "1.2", "1.2.3", "https://nf.example")).toBe(
      "https://nf.example/dicomweb/projects/4/studies/1.2/series/1.2.3",
    );
  });
});
