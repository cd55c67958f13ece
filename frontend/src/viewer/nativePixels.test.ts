import { describe, expect, test } from "vitest";

import { decodeNative, seriesPixelSpecs, type PixelSpec } from "./nativePixels";
import type { DicomJson } from "./series";

function instance(overrides: Record<string, unknown> = {}): DicomJson {
  const tags: Record<string, unknown> = {
    "00080060": "CT",
    "00280002": 1,
    "00280004": "MONOCHROME2",
    "00280010": 2,
    "00280011": 2,
    "00280100": 16,
    "00280101": 16,
    "00280103": 0,
    "00281052": "-1024",
    "00281053": "1",
    ...overrides,
  };
  return Object.fromEntries(Object.entries(tags).filter(([, v]) => v !== undefined).map(([tag, v]) => [tag, { Value: [v] }]));
}

function only(instances: DicomJson[]): PixelSpec {
  const specs = seriesPixelSpecs(instances);
  const spec = specs?.get(instances[0] as DicomJson);
  if (!spec) throw new Error("no spec");
  return spec;
}

const le16 = (values: number[]): Uint8Array => new Uint8Array(Uint16Array.from(values.map((v) => v & 0xffff)).buffer);

describe("seriesPixelSpecs", () => {
  test("gives the volume's pixel type: Int16 when signed or rescaled below zero, else Uint16; Uint8 for 8 bits", () => {
    expect(only([instance()]).type).toBe("Int16Array");
    expect(only([instance({ "00281052": "0" })]).type).toBe("Uint16Array");
    expect(only([instance({ "00281052": "0", "00280103": 1 })]).type).toBe("Int16Array");
    expect(only([instance({ "00280100": 8, "00280101": 8, "00281052": undefined, "00281053": undefined })]).type).toBe("Uint8Array");
  });

  test("one type for the series: one slice rescaled below zero makes all Int16", () => {
    const series = [instance({ "00281052": "0" }), instance({ "00281052": "-1000" })];
    expect([...(seriesPixelSpecs(series)?.values() ?? [])].map((s) => s.type)).toEqual(["Int16Array", "Int16Array"]);
  });

  test("leaves to the loader what it does not decode the same way", () => {
    const refused = [
      instance({ "00281053": "1.5" }),
      instance({ "00281052": "-1024.5" }),
      instance({ "00080060": "PT" }),
      instance({ "00280002": 3, "00280004": "RGB" }),
      instance({ "00280100": 32 }),
      instance({ "00281053": undefined }),
    ];
    for (const dataset of refused) expect(seriesPixelSpecs([dataset])).toBeNull();
    expect(seriesPixelSpecs([instance(), instance({ "00280100": 8 })])).toBeNull();
  });
});

describe("decodeNative", () => {
  test("applies the rescale and gives the range after it", () => {
    const frame = decodeNative(le16([0, 1024, 2048, 4095]), only([instance()]));
    expect(Array.from(frame?.pixels ?? [])).toEqual([-1024, 0, 1024, 3071]);
    expect(frame).toMatchObject({ type: "Int16Array", min: -1024, max: 3071, scaled: true, slope: 1, intercept: -1024 });
    expect(frame?.pixels).toBeInstanceOf(Int16Array);
  });

  test("sign-extends signed values from BitsStored, as the DICOM image loader does", () => {
    const spec = only([instance({ "00280103": 1, "00280101": 12, "00281052": "0" })]);
    const frame = decodeNative(le16([0x0fff, 0x0800, 0x07ff, 1]), spec);
    expect(Array.from(frame?.pixels ?? [])).toEqual([-1, -2048, 2047, 1]);
  });

  test("keeps stored values without a rescale, not marked as scaled", () => {
    const spec = only([instance({ "00281052": undefined, "00281053": undefined })]);
    const frame = decodeNative(le16([5, 6, 7, 8]), spec);
    expect(Array.from(frame?.pixels ?? [])).toEqual([5, 6, 7, 8]);
    expect(frame?.scaled).toBe(false);
  });

  test("applies a negative slope", () => {
    const frame = decodeNative(le16([0, 1, 2, 3]), only([instance({ "00281053": "-2", "00281052": "10" })]));
    expect(Array.from(frame?.pixels ?? [])).toEqual([10, 8, 6, 4]);
    expect(frame).toMatchObject({ min: 4, max: 10 });
  });

  test("refuses values that do not fit the type, and bytes that are not one frame", () => {
    const unsigned = only([instance({ "00281052": "1000" })]);
    expect(decodeNative(le16([0, 65000, 1, 2]), unsigned)).toBeNull();
    expect(decodeNative(le16([0, 1, 2]), unsigned)).toBeNull();
  });

  test("reads bytes that do not start on an even offset", () => {
    const bytes = new Uint8Array(9);
    bytes.set(le16([1024, 1025, 1026, 1027]), 1);
    expect(Array.from(decodeNative(bytes.subarray(1), only([instance()]))?.pixels ?? [])).toEqual([0, 1, 2, 3]);
  });
});
