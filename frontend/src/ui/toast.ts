// Messages for the user: errors stay until dismissed, notes fade.

import { h } from "./dom";

export type ToastKind = "error" | "info" | "ok";

export class Toasts {
  readonly element = h("div", { className: "nf-toasts", role: "status", "aria-live": "polite" });

  show(message: string, kind: ToastKind = "info", seconds = kind === "error" ? 0 : 4): void {
    const close = h("button", { className: "nf-toast-close", type: "button", "aria-label": "Dismiss" }, "×");
    const toast = h("div", { className: `nf-toast nf-toast-${kind}`, role: kind === "error" ? "alert" : "status" }, h("span", {}, message), close);
    close.addEventListener("click", () => toast.remove());
    this.element.append(toast);
    if (seconds > 0) window.setTimeout(() => toast.remove(), seconds * 1000);
  }

  error(error: unknown): void {
    this.show(error instanceof Error ? error.message : String(error), "error");
  }
}
