// Loading progress: metadata first, then frames.

import { h } from "./dom";

export class Progress {
  private readonly bar = h("progress", { className: "nf-progress-bar", max: 1, value: 0 });
  private readonly label = h("span", { className: "nf-progress-label" }, "");
  readonly element = h("div", { className: "nf-progress", hidden: true }, this.label, this.bar);

  step(text: string, done?: number, total?: number): void {
    this.element.hidden = false;
    this.label.textContent = total ? `${text} ${done ?? 0}/${total}` : text;
    if (total) {
      this.bar.max = total;
      this.bar.value = done ?? 0;
    } else {
      this.bar.removeAttribute("value");
    }
  }

  done(): void {
    this.element.hidden = true;
  }
}
