// Modal dialogs on <dialog>: the conflict choice and the shortcut sheet.

import type { Shortcut } from "../tools/keymap";
import { h } from "./dom";

export interface Choice<T> {
  readonly label: string;
  readonly value: T;
  readonly primary?: boolean;
}

export function choose<T>(host: HTMLElement, title: string, body: string, choices: readonly Choice<T>[]): Promise<T | null> {
  return new Promise((resolve) => {
    const dialog = h("dialog", { className: "nf-dialog" });
    const buttons = choices.map((choice) => {
      const button = h("button", { type: "button", className: choice.primary ? "nf-primary" : "" }, choice.label);
      button.addEventListener("click", () => {
        dialog.close();
        resolve(choice.value);
      });
      return button;
    });
    dialog.append(h("h2", {}, title), h("p", {}, body), h("div", { className: "nf-dialog-buttons" }, ...buttons));
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(null);
    });
    host.append(dialog);
    dialog.showModal();
  });
}

export function shortcutSheet(host: HTMLElement, shortcuts: readonly Shortcut[]): HTMLDialogElement {
  const rows = shortcuts.map((s) => h("tr", {}, h("th", { scope: "row" }, h("kbd", {}, s.keys)), h("td", {}, s.does)));
  const close = h("button", { type: "button" }, "Close");
  const dialog = h(
    "dialog",
    { className: "nf-dialog nf-shortcuts" },
    h("h2", {}, "Keyboard shortcuts"),
    h("table", {}, h("tbody", {}, ...rows)),
    h("div", { className: "nf-dialog-buttons" }, close),
  );
  close.addEventListener("click", () => dialog.close());
  host.append(dialog);
  return dialog;
}
