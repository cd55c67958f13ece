// The toolbar and the overlay controls. Pure DOM; the viewer wires the callbacks.

import type { SegmentSchema } from "../api/types";
import { TOOL_LABELS, toolKey, type ToolName } from "../tools/keymap";
import { EDITING_TOOLS } from "../tools/toolGroups";
import { BONE, LUNG, MEDIASTINUM, type WindowPreset } from "../viewer/presets";
import { h } from "./dom";

export type Layout = "axial" | "mpr" | "stack";

export interface ToolbarEvents {
  onTool(tool: ToolName): void;
  onPreset(preset: WindowPreset): void;
  onLayout(layout: Layout): void;
  onThreshold(lower: number, upper: number): void;
  onUndo(): void;
  onRedo(): void;
  onInterpolate(): void;
  onOpacity(opacity: number): void;
  onOutline(outlineOnly: boolean): void;
  onSegmentVisible(segment: number, visible: boolean): void;
  onActiveSegment(segment: number): void;
}

export interface ToolbarOptions {
  readonly editable: boolean;
  readonly layouts: readonly Layout[];
  readonly crosshairs: boolean;
  readonly segments: readonly SegmentSchema[];
  readonly brushSize: number;
  readonly threshold: readonly [number, number];
}

const NAVIGATION: readonly ToolName[] = ["windowLevel", "pan", "zoom", "crosshairs"];
const EDITING: readonly ToolName[] = ["brush", "eraser", "thresholdBrush", "sphereScissors", "rectangleScissors", "rectangleEraser"];

export class Toolbar {
  readonly element: HTMLElement;
  readonly overlay: HTMLElement;
  private readonly toolButtons = new Map<ToolName, HTMLButtonElement>();
  private readonly layoutButtons = new Map<Layout, HTMLButtonElement>();
  private readonly brushSize: HTMLOutputElement;
  private readonly outline: HTMLInputElement;
  private readonly segmentChecks = new Map<number, HTMLInputElement>();
  private readonly segmentRadios = new Map<number, HTMLInputElement>();
  private readonly thresholdBox: HTMLElement;

  constructor(options: ToolbarOptions, events: ToolbarEvents) {
    const tools = [...NAVIGATION.filter((t) => t !== "crosshairs" || options.crosshairs), ...(options.editable ? EDITING : [])];
    const toolGroup = h("div", { className: "nf-group", role: "group", "aria-label": "Tools" });
    for (const tool of tools) {
      const button = h("button", { type: "button", title: `${TOOL_LABELS[tool]} (${toolKey(tool)})`, "data-tool": tool }, TOOL_LABELS[tool]);
      button.addEventListener("click", () => events.onTool(tool));
      this.toolButtons.set(tool, button);
      toolGroup.append(button);
    }
    const presets = h("div", { className: "nf-group", role: "group", "aria-label": "Window" });
    [LUNG, MEDIASTINUM, BONE].forEach((preset, n) => {
      const button = h("button", { type: "button", title: `W${preset.width} L${preset.level} (${n + 1})` }, preset.name);
      button.addEventListener("click", () => events.onPreset(preset));
      presets.append(button);
    });
    const layouts = h("div", { className: "nf-group", role: "group", "aria-label": "Layout" });
    for (const layout of options.layouts) {
      const button = h("button", { type: "button", "data-layout": layout }, layout === "mpr" ? "MPR 1×3" : layout === "axial" ? "Axial" : "Stack");
      button.addEventListener("click", () => events.onLayout(layout));
      this.layoutButtons.set(layout, button);
      layouts.append(button);
    }

    this.brushSize = h("output", { className: "nf-brush-size" }, `${options.brushSize} mm`);
    const low = h("input", { type: "number", step: 10, value: options.threshold[0], "aria-label": "Threshold lower HU" });
    const high = h("input", { type: "number", step: 10, value: options.threshold[1], "aria-label": "Threshold upper HU" });
    const onRange = (): void => {
      const lower = Number(low.value);
      const upper = Number(high.value);
      if (Number.isFinite(lower) && Number.isFinite(upper)) events.onThreshold(lower, upper);
    };
    low.addEventListener("change", onRange);
    high.addEventListener("change", onRange);
    this.thresholdBox = h("label", { className: "nf-threshold", hidden: true }, "HU ", low, " to ", high);
    const editing = options.editable
      ? h(
          "div",
          { className: "nf-group", role: "group", "aria-label": "Editing" },
          h("span", { title: "Brush radius ([ and ])" }, "Brush ", this.brushSize),
          this.thresholdBox,
          button("Undo", "Ctrl+Z", events.onUndo),
          button("Redo", "Ctrl+Y", events.onRedo),
          button("Interpolate", "I", events.onInterpolate),
        )
      : h("span", { className: "nf-muted" }, "Read only");
    this.element = h("div", { className: "nf-toolbar", role: "toolbar" }, toolGroup, presets, layouts, editing);

    const opacity = h("input", { type: "range", min: 0, max: 1, step: 0.05, value: 0.5, "aria-label": "Overlay opacity" });
    opacity.addEventListener("input", () => events.onOpacity(Number(opacity.value)));
    this.outline = h("input", { type: "checkbox", "aria-label": "Outline only" });
    this.outline.addEventListener("change", () => events.onOutline(this.outline.checked));
    const segments = options.segments.map((segment, n) => {
      const visible = h("input", { type: "checkbox", checked: true, "aria-label": `Show ${segment.name}` });
      visible.addEventListener("change", () => events.onSegmentVisible(segment.index, visible.checked));
      this.segmentChecks.set(segment.index, visible);
      const active = h("input", { type: "radio", name: "nf-active-segment", checked: n === 0, disabled: !options.editable, "aria-label": `Draw ${segment.name}` });
      active.addEventListener("change", () => events.onActiveSegment(segment.index));
      this.segmentRadios.set(segment.index, active);
      return h(
        "li",
        {},
        visible,
        h("span", { className: "nf-swatch", style: `background:${segment.colour}` }),
        h("span", {}, segment.name),
        options.editable ? h("label", { className: "nf-active", title: `Draw with this segment (Shift+${segment.index})` }, active, "draw") : null,
      );
    });
    this.overlay = h(
      "section",
      { className: "nf-overlay", "aria-label": "Overlay" },
      h("h2", {}, "Segments"),
      h("ul", { className: "nf-segments" }, ...segments),
      h("label", {}, "Opacity ", opacity),
      h("label", {}, this.outline, " Outline only (O)"),
    );
  }

  setActiveTool(tool: ToolName): void {
    for (const [name, button] of this.toolButtons) button.setAttribute("aria-pressed", String(name === tool));
    this.thresholdBox.hidden = tool !== "thresholdBrush";
    this.element.classList.toggle("nf-editing", EDITING_TOOLS.has(tool));
  }

  setLayout(layout: Layout): void {
    for (const [name, button] of this.layoutButtons) button.setAttribute("aria-pressed", String(name === layout));
  }

  setBrushSize(size: number): void {
    this.brushSize.value = `${size} mm`;
  }

  toggleOutline(): boolean {
    this.outline.checked = !this.outline.checked;
    return this.outline.checked;
  }

  setActiveSegment(segment: number): boolean {
    const radio = this.segmentRadios.get(segment);
    if (!radio || radio.disabled) return false;
    radio.checked = true;
    return true;
  }
}

function button(label: string, key: string, onClick: () => void): HTMLButtonElement {
  const element = h("button", { type: "button", title: `${label} (${key})` }, label);
  element.addEventListener("click", onClick);
  return element;
}
