import { describe, expect, test } from "vitest";

import { BONE, LUNG, MEDIASTINUM } from "../viewer/presets";
import { SHORTCUTS, actionForKey, toolKey } from "./keymap";

describe("actionForKey", () => {
  test.each([
    ["1", LUNG],
    ["2", MEDIASTINUM],
    ["3", BONE],
  ])("key %s selects its window preset", (key, preset) => {
    expect(actionForKey({ key })).toEqual({ kind: "preset", preset });
  });

  test.each([
    ["b", "brush"],
    ["B", "brush"],
    ["e", "eraser"],
    ["t", "thresholdBrush"],
    ["s", "sphereScissors"],
    ["r", "rectangleScissors"],
    ["x", "rectangleEraser"],
    ["c", "crosshairs"],
    ["w", "windowLevel"],
    ["p", "pan"],
    ["z", "zoom"],
  ])("key %s selects the %s tool", (key, tool) => {
    expect(actionForKey({ key })).toEqual({ kind: "tool", tool });
  });

  test("[ and ] change the brush size", () => {
    expect(actionForKey({ key: "[" })).toEqual({ kind: "brushSize", step: -1 });
    expect(actionForKey({ key: "]" })).toEqual({ kind: "brushSize", step: 1 });
  });

  test("Ctrl+Z undoes, Ctrl+Y and Ctrl+Shift+Z redo, also with Cmd", () => {
    expect(actionForKey({ key: "z", ctrlKey: true })).toEqual({ kind: "undo" });
    expect(actionForKey({ key: "y", ctrlKey: true })).toEqual({ kind: "redo" });
    expect(actionForKey({ key: "Z", ctrlKey: true, shiftKey: true })).toEqual({ kind: "redo" });
    expect(actionForKey({ key: "z", metaKey: true })).toEqual({ kind: "undo" });
  });

  test("Ctrl+Z works while typing in a field too (the viewer owns undo of drawing)", () => {
    expect(actionForKey({ key: "z", ctrlKey: true, inEditable: true })).toEqual({ kind: "undo" });
  });

  test("plain keys typed in a text field do nothing", () => {
    expect(actionForKey({ key: "b", inEditable: true })).toBeUndefined();
    expect(actionForKey({ key: "1", inEditable: true })).toBeUndefined();
    expect(actionForKey({ key: "?", inEditable: true })).toBeUndefined();
  });

  test("? opens the shortcut sheet and Escape closes it", () => {
    expect(actionForKey({ key: "?", shiftKey: true })).toEqual({ kind: "help" });
    expect(actionForKey({ key: "Escape" })).toEqual({ kind: "close" });
  });

  test("Shift+digit selects a segment", () => {
    expect(actionForKey({ key: "@", shiftKey: true })).toEqual({ kind: "segment", index: 2 });
  });

  test("Ctrl with other keys and Alt combinations are left to the browser", () => {
    expect(actionForKey({ key: "r", ctrlKey: true })).toBeUndefined();
    expect(actionForKey({ key: "b", altKey: true })).toBeUndefined();
    expect(actionForKey({ key: "z", ctrlKey: true, altKey: true })).toBeUndefined();
  });

  test.each(["q", "F5", "Tab", "toString", "constructor", "4"])("key %j does nothing", (key) => {
    expect(actionForKey({ key })).toBeUndefined();
  });

  test("i, l and o interpolate, switch layout and toggle outline", () => {
    expect(actionForKey({ key: "i" })).toEqual({ kind: "interpolate" });
    expect(actionForKey({ key: "l" })).toEqual({ kind: "layout" });
    expect(actionForKey({ key: "o" })).toEqual({ kind: "outline" });
  });

  test("m and d toggle the model's overlay and the diff with it, not while typing a comment", () => {
    expect(actionForKey({ key: "m" })).toEqual({ kind: "modelOverlay" });
    expect(actionForKey({ key: "D" })).toEqual({ kind: "diff" });
    expect(actionForKey({ key: "m", inEditable: true })).toBeUndefined();
    expect(actionForKey({ key: "d", inEditable: true })).toBeUndefined();
  });
});

describe("SHORTCUTS", () => {
  test("every tool on the sheet has the key the handler uses", () => {
    for (const shortcut of SHORTCUTS.filter((s) => s.keys.length === 1 && /[A-Z]/.test(s.keys))) {
      const action = actionForKey({ key: shortcut.keys.toLowerCase() });
      expect(action?.kind).toBeDefined();
    }
    expect(toolKey("brush")).toBe("B");
  });
});
