// The review section of the side panel: start a review, write the general comment, decide
// (accept, send to rework, release), read what the server refused, and move on afterwards.

import type { Task } from "../api/types";
import { h } from "../ui/dom";
import type { Access } from "./mode";
import { stateLabel } from "./mode";

export type Decision = "accept" | "rework" | "release";

export interface ReviewPanelEvents {
  onStart(): void;
  onDecide(decision: Decision): void;
}

const DONE: Readonly<Record<string, string>> = {
  accepted: "Accepted.",
  rework: "Sent back to the annotator for rework.",
  submitted: "Released: the task is back in the review queue.",
};

export class ReviewPanel {
  readonly element = h("section", { className: "nf-review", "aria-label": "Review" });
  /** The general comment; kept across renders so a refused decision loses nothing. */
  readonly comment = h("textarea", { className: "nf-review-comment", rows: 3, "aria-label": "General comment", placeholder: "What the annotator should know (required to send to rework, unless you comment on a finding)" });
  private readonly error = h("p", { className: "nf-review-error", role: "alert", hidden: true });
  private readonly buttons: HTMLButtonElement[] = [];

  constructor(private readonly events: ReviewPanelEvents) {}

  /** Draw the section for the task as it is now; `decided` after this page made a decision. */
  render(task: Task, access: Access, decided = false): void {
    this.buttons.length = 0;
    const children: Node[] = [];
    const heading = h("h2", {}, "Review");
    if (decided) {
      children.push(
        h("p", { className: "nf-review-done", "data-task-state": task.state }, DONE[task.state] ?? `The task is ${stateLabel(task.state)}.`),
        h("a", { className: "nf-next-task", href: task.next_url || "/tasks/next/" }, "Next task"),
      );
    } else if (access.canStartReview) {
      children.push(
        h("p", {}, `Submitted by ${task.assignee ?? "the annotator"}. Start the review to edit, comment and decide.`),
        this.button("Start review", "nf-primary", () => this.events.onStart()),
      );
    } else if (access.canDecide) {
      children.push(
        h("p", { className: "nf-review-label" }, "General comment"),
        this.comment,
        h("p", { className: "nf-muted" }, "Comment on a finding in its box below. Edits you make are saved before the decision."),
        h(
          "div",
          { className: "nf-review-buttons" },
          this.button("Accept", "nf-primary", () => this.events.onDecide("accept"), "Accept the latest revision (yours, if you edited)"),
          this.button("Send to rework", "", () => this.events.onDecide("rework"), "Back to the annotator with your comments"),
          access.canRelease ? this.button("Release", "", () => this.events.onDecide("release"), "Back to the review queue, for someone else") : null,
        ),
      );
    } else if (access.canRelease) {
      children.push(
        h("p", {}, `In review by ${task.reviewer ?? "a reviewer"}.`),
        this.button("Release", "", () => this.events.onDecide("release"), "Back to the review queue"),
      );
    } else {
      const last = task.reviews?.[0];
      if (!last) {
        this.element.replaceChildren();
        this.element.hidden = true;
        return;
      }
      children.push(h("p", { className: "nf-muted" }, `Last review: ${last.decision === "accepted" ? "accepted" : "sent to rework"} by ${last.reviewer}.`));
    }
    this.element.hidden = false;
    this.element.replaceChildren(heading, ...children, this.error);
  }

  /** The server's refusal (its `detail`), beside the buttons; null clears it. */
  showError(message: string | null): void {
    this.error.textContent = message ?? "";
    this.error.hidden = message === null;
  }

  setBusy(busy: boolean): void {
    for (const button of this.buttons) button.disabled = busy;
    this.element.setAttribute("aria-busy", String(busy));
  }

  private button(label: string, className: string, onClick: () => void, title = label): HTMLButtonElement {
    const button = h("button", { type: "button", className, title }, label);
    button.addEventListener("click", onClick);
    this.buttons.push(button);
    return button;
  }
}
