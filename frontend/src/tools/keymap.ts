// The viewer's keyboard map: which key does what. Pure, so the shortcut sheet and the tests read
// the same table the key handler does.

import { presetForKey, type WindowPreset } from "../viewer/presets";

export type ToolName =
  | "windowLevel"
  | "pan"
  | "zoom"
  | "crosshairs"
  | "brush"
  | "eraser"
  | "thresholdBrush"
  | "sphereScissors"
  | "rectangleScissors"
  | "rectangleEraser";

export type Action =
  | { readonly kind: "preset"; readonly preset: WindowPreset }
  | { readonly kind: "tool"; readonly tool: ToolName }
  | { readonly kind: "brushSize"; readonly step: 1 | -1 }
  | { readonly kind: "undo" }
  | { readonly kind: "redo" }
  | { readonly kind: "interpolate" }
  | { readonly kind: "save" }
  | { readonly kind: "help" }
  | { readonly kind: "layout" }
  | { readonly kind: "outline" }
  | { readonly kind: "uncertainty" }
  | { readonly kind: "modelOverlay" }
  | { readonly kind: "diff" }
  | { readonly kind: "segment"; readonly index: number }
  | { readonly kind: "slice"; readonly step: 1 | -1 }
  | { readonly kind: "close" };

export interface KeyInput {
  readonly key: string;
  readonly ctrlKey?: boolean;
  readonly metaKey?: boolean;
  readonly shiftKey?: boolean;
  readonly altKey?: boolean;
  /** True when focus is in a text field, select or other control that wants the keys itself. */
  readonly inEditable?: boolean;
}

export interface Shortcut {
  readonly keys: string;
  readonly does: string;
}

const TOOL_KEYS: Readonly<Record<string, ToolName>> = {
  w: "windowLevel",
  p: "pan",
  z: "zoom",
  c: "crosshairs",
  b: "brush",
  e: "eraser",
  t: "thresholdBrush",
  s: "sphereScissors",
  r: "rectangleScissors",
  x: "rectangleEraser",
};

export const TOOL_LABELS: Readonly<Record<ToolName, string>> = {
  windowLevel: "Window/level",
  pan: "Pan",
  zoom: "Zoom",
  crosshairs: "Crosshairs",
  brush: "Brush",
  eraser: "Eraser",
  thresholdBrush: "Threshold brush",
  sphereScissors: "Sphere fill",
  rectangleScissors: "Rectangle fill",
  rectangleEraser: "Rectangle erase",
};

export function toolKey(tool: ToolName): string {
  return Object.entries(TOOL_KEYS).find(([, t]) => t === tool)?.[0].toUpperCase() ?? "";
}

export function actionForKey(input: KeyInput): Action | undefined {
  const command = input.ctrlKey === true || input.metaKey === true;
  const key = input.key;
  if (key === "Escape") return { kind: "close" };
  if (command && input.altKey !== true) {
    const lower = key.toLowerCase();
    if (lower === "z") return input.shiftKey === true ? { kind: "redo" } : { kind: "undo" };
    if (lower === "y") return { kind: "redo" };
    if (lower === "s") return { kind: "save" };
    return undefined;
  }
  // Plain keys belong to the text field or list the user is typing in.
  if (input.inEditable === true || command || input.altKey === true) return undefined;
  if (key === "?") return { kind: "help" };
  if (key === "[") return { kind: "brushSize", step: -1 };
  if (key === "]") return { kind: "brushSize", step: 1 };
  if (key === "ArrowUp" || key === "PageUp") return { kind: "slice", step: -1 };
  if (key === "ArrowDown" || key === "PageDown") return { kind: "slice", step: 1 };
  if (input.shiftKey === true) {
    // Shift+1..9 selects a segment; browsers report the shifted character (US layout).
    const digit = SHIFTED_DIGITS.indexOf(key);
    if (digit > 0) return { kind: "segment", index: digit };
    return undefined;
  }
  const preset = presetForKey(key);
  if (preset !== undefined) return { kind: "preset", preset };
  const lower = key.toLowerCase();
  if (key.length === 1 && Object.hasOwn(TOOL_KEYS, lower)) {
    const tool = TOOL_KEYS[lower];
    if (tool !== undefined) return { kind: "tool", tool };
  }
  if (lower === "i") return { kind: "interpolate" };
  if (lower === "l") return { kind: "layout" };
  if (lower === "o") return { kind: "outline" };
  if (lower === "u") return { kind: "uncertainty" };
  if (lower === "m") return { kind: "modelOverlay" };
  if (lower === "d") return { kind: "diff" };
  return undefined;
}

// US layout shifted digits, index = digit; digits themselves also count (numpad, other layouts).
const SHIFTED_DIGITS = [")", "!", "@", "#", "$", "%", "^", "&", "*", "("];

export const SHORTCUTS: readonly Shortcut[] = [
  { keys: "1 / 2 / 3", does: "Window preset: lung (W1500 L-600), mediastinum (W350 L50), bone (W2000 L300)" },
  ...Object.entries(TOOL_KEYS).map(([key, tool]) => ({ keys: key.toUpperCase(), does: TOOL_LABELS[tool] })),
  { keys: "[ / ]", does: "Brush smaller / larger" },
  { keys: "I", does: "Interpolate the active segment between drawn slices" },
  { keys: "O", does: "Outline / fill" },
  { keys: "U", does: "Uncertainty heat map (model pre-annotations with one)" },
  { keys: "M", does: "Model's pre-annotation as a second, read-only overlay (cyan)" },
  { keys: "D", does: "Diff with the model: green = only in these labels, magenta = only in the model's" },
  { keys: "L", does: "Layout: axial / MPR" },
  { keys: "Shift+1…9", does: "Active segment" },
  { keys: "↑ / ↓, wheel", does: "Previous / next slice" },
  { keys: "Ctrl+Z / Ctrl+Y", does: "Undo / redo (also Ctrl+Shift+Z)" },
  { keys: "Ctrl+S", does: "Save now" },
  { keys: "?", does: "This sheet" },
  { keys: "Esc", does: "Close dialogs" },
  { keys: "Mouse", does: "Left: active tool · middle: pan · right: zoom · wheel: scroll" },
];
