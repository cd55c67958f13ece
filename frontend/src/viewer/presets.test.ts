import { describe, expect, test } from "vitest";

import { BONE, LUNG, MEDIASTINUM, presetForKey, voiRange } from "./presets";

describe("presetForKey", () => {
  test("key 1 selects the lung window W1500 L-600", () => {
    expect(presetForKey("1")).toEqual({ name: "lung", width: 1500, level: -600 });
  });

  test("key 2 selects the mediastinum window W350 L50", () => {
    expect(presetForKey("2")).toEqual({ name: "mediastinum", width: 350, level: 50 });
  });

  test("key 3 selects the bone window W2000 L300", () => {
    expect(presetForKey("3")).toEqual({ name: "bone", width: 2000, level: 300 });
  });

  test.each(["0", "4", "", "a", "11", "toString", "__proto__", "constructor"])(
    "key %j selects no preset",
    (key) => {
      expect(presetForKey(key)).toBeUndefined();
    },
  );
});

describe("voiRange", () => {
  test("lung window spans -1350 to 150 HU", () => {
    expect(voiRange(LUNG)).toEqual({ lower: -1350, upper: 150 });
  });

  test("mediastinum window spans -125 to 225 HU", () => {
    expect(voiRange(MEDIASTINUM)).toEqual({ lower: -125, upper: 225 });
  });

  test("bone window spans -700 to 1300 HU", () => {
    expect(voiRange(BONE)).toEqual({ lower: -700, upper: 1300 });
  });

  test("an odd width splits evenly around the level", () => {
    expect(voiRange({ name: "odd", width: 401, level: 40 })).toEqual({
      lower: -160.5,
      upper: 240.5,
    });
  });

  test("range width equals the preset width", () => {
    for (const preset of [LUNG, MEDIASTINUM, BONE]) {
      const { lower, upper } = voiRange(preset);
      expect(upper - lower).toBe(preset.width);
    }
  });
});
