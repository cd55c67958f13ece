// The viewer's tool group: navigation on the secondary buttons and the wheel, the chosen tool
// on the primary button. Segmentation tools are Cornerstone's, configured here.

import {
  BrushTool,
  CrosshairsTool,
  Enums as ToolEnums,
  PanTool,
  RectangleScissorsTool,
  SphereScissorsTool,
  StackScrollTool,
  ToolGroupManager,
  WindowLevelTool,
  ZoomTool,
  addTool,
  utilities as toolUtilities,
  type Types as ToolTypes,
} from "@cornerstonejs/tools";

import type { ToolName } from "./keymap";

const { MouseBindings } = ToolEnums;

export const TOOL_GROUP_ID = "noduleflow";

// Our tool names -> the Cornerstone tool instance that implements each.
const INSTANCE: Readonly<Record<ToolName, string>> = {
  windowLevel: WindowLevelTool.toolName,
  pan: PanTool.toolName,
  zoom: ZoomTool.toolName,
  crosshairs: CrosshairsTool.toolName,
  brush: "NFBrush",
  eraser: "NFEraser",
  thresholdBrush: "NFThresholdBrush",
  sphereScissors: SphereScissorsTool.toolName,
  rectangleScissors: "NFRectangleFill",
  rectangleEraser: "NFRectangleErase",
};

export const EDITING_TOOLS: ReadonlySet<ToolName> = new Set([
  "brush", "eraser", "thresholdBrush", "sphereScissors", "rectangleScissors", "rectangleEraser",
]);

/** Brush radius steps in mm ([ and ] walk through them). */
export const BRUSH_SIZES = [1, 2, 3, 5, 8, 12, 16, 20, 25, 32, 40, 50] as const;
export const DEFAULT_BRUSH_SIZE = 8;
/** Default HU range of the threshold brush: soft tissue and solid nodule, not aerated lung. */
export const DEFAULT_THRESHOLD: readonly [number, number] = [-400, 200];

let registered = false;

function registerTools(): void {
  if (registered) return;
  for (const tool of [WindowLevelTool, PanTool, ZoomTool, StackScrollTool, CrosshairsTool, BrushTool, SphereScissorsTool, RectangleScissorsTool]) {
    addTool(tool);
  }
  registered = true;
}

export class ViewerTools {
  readonly group: ToolTypes.IToolGroup;
  private active: ToolName = "windowLevel";
  private brushSize: number = DEFAULT_BRUSH_SIZE;
  private threshold: [number, number] = [...DEFAULT_THRESHOLD];

  constructor(private readonly withCrosshairs: boolean) {
    registerTools();
    ToolGroupManager.destroyToolGroup(TOOL_GROUP_ID);
    const group = ToolGroupManager.createToolGroup(TOOL_GROUP_ID);
    if (!group) throw new Error("could not create the tool group");
    this.group = group;
    group.addTool(WindowLevelTool.toolName);
    group.addTool(PanTool.toolName);
    group.addTool(ZoomTool.toolName);
    group.addTool(StackScrollTool.toolName);
    if (withCrosshairs) group.addTool(CrosshairsTool.toolName);
    group.addToolInstance(INSTANCE.brush, BrushTool.toolName, { activeStrategy: "FILL_INSIDE_CIRCLE" });
    group.addToolInstance(INSTANCE.eraser, BrushTool.toolName, { activeStrategy: "ERASE_INSIDE_CIRCLE" });
    group.addToolInstance(INSTANCE.thresholdBrush, BrushTool.toolName, {
      activeStrategy: "THRESHOLD_INSIDE_CIRCLE",
      threshold: { range: this.threshold, isDynamic: false, dynamicRadius: 0 },
    });
    group.addTool(SphereScissorsTool.toolName);
    group.addToolInstance(INSTANCE.rectangleScissors, RectangleScissorsTool.toolName, { activeStrategy: "FILL_INSIDE" });
    group.addToolInstance(INSTANCE.rectangleEraser, RectangleScissorsTool.toolName, { activeStrategy: "ERASE_INSIDE" });

    group.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: MouseBindings.Auxiliary }] });
    group.setToolActive(ZoomTool.toolName, { bindings: [{ mouseButton: MouseBindings.Secondary }] });
    group.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: MouseBindings.Wheel }] });
    this.activate("windowLevel");
    this.setBrushSize(this.brushSize);
  }

  addViewport(viewportId: string, renderingEngineId: string): void {
    this.group.addViewport(viewportId, renderingEngineId);
  }

  get activeTool(): ToolName {
    return this.active;
  }

  activate(tool: ToolName): void {
    if (tool === "crosshairs" && !this.withCrosshairs) return;
    const previous = INSTANCE[this.active];
    if (this.group.hasTool(previous)) this.group.setToolPassive(previous, { removeAllBindings: true });
    this.group.setToolActive(INSTANCE[tool], { bindings: [{ mouseButton: MouseBindings.Primary }] });
    this.active = tool;
  }

  /** Step through BRUSH_SIZES (radius in mm); returns the new size. */
  stepBrushSize(step: 1 | -1): number {
    const index = BRUSH_SIZES.findIndex((s) => s >= this.brushSize);
    const at = index === -1 ? BRUSH_SIZES.length - 1 : index;
    const next = BRUSH_SIZES[Math.min(BRUSH_SIZES.length - 1, Math.max(0, at + step))] ?? this.brushSize;
    this.setBrushSize(next);
    return next;
  }

  setBrushSize(size: number): void {
    this.brushSize = size;
    toolUtilities.segmentation.setBrushSizeForToolGroup(TOOL_GROUP_ID, size);
  }

  get size(): number {
    return this.brushSize;
  }

  get thresholdRange(): readonly [number, number] {
    return this.threshold;
  }

  setThreshold(lower: number, upper: number): void {
    this.threshold = [Math.min(lower, upper), Math.max(lower, upper)];
    this.group.setToolConfiguration(INSTANCE.thresholdBrush, {
      threshold: { range: this.threshold, isDynamic: false, dynamicRadius: 0 },
    });
  }

  destroy(): void {
    ToolGroupManager.destroyToolGroup(TOOL_GROUP_ID);
  }
}
