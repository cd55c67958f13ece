// CT window/level presets in Hounsfield units, bound to the number keys.

export interface WindowPreset {
  readonly name: string;
  readonly width: number;
  readonly level: number;
}

export interface VoiRange {
  readonly lower: number;
  readonly upper: number;
}

export const LUNG: WindowPreset = { name: "lung", width: 1500, level: -600 };
export const MEDIASTINUM: WindowPreset = { name: "mediastinum", width: 350, level: 50 };
export const BONE: WindowPreset = { name: "bone", width: 2000, level: 300 };

export const PRESETS_BY_KEY: Readonly<Record<string, WindowPreset>> = Object.freeze({
  "1": LUNG,
  "2": MEDIASTINUM,
  "3": BONE,
});

export function presetForKey(key: string): WindowPreset | undefined {
  // Own-property check so keys like "toString" do not resolve to Object.prototype members.
  return Object.hasOwn(PRESETS_BY_KEY, key) ? PRESETS_BY_KEY[key] : undefined;
}

export function voiRange(preset: WindowPreset): VoiRange {
  const half = preset.width / 2;
  return { lower: preset.level - half, upper: preset.level + half };
}
