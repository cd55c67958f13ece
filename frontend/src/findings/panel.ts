// The findings panel: one row per nodule with its measurements, model confidence, reviewer
// comments and the schema's attributes (each an ordinal choice list). In review mode each row
// has a comment box; in rework each row shows what the reviewer said about it.

import type { Finding, LabelSchema } from "../api/types";
import type { ReworkNotes } from "../review/comments";
import { h } from "../ui/dom";

export interface PanelReview {
  /** Finding id → the reviewer's draft comment; a box per finding when present. */
  readonly drafts?: Map<string, string>;
  /** The last review's comments, shown beside their findings. */
  readonly notes?: ReworkNotes | null;
}

export interface PanelEvents {
  onJump(finding: Finding): void;
  onAttribute(findingId: string, name: string, value: number | null): void;
}

export class FindingsPanel {
  readonly element = h("section", { className: "nf-findings", "aria-label": "Findings" });
  private selected: string | null = null;
  private review: PanelReview = {};
  /** Comment boxes by finding id, kept across renders (the findings redraw as labels change). */
  private readonly boxes = new Map<string, HTMLTextAreaElement>();
  private findings: readonly Finding[] = [];

  constructor(
    private readonly schema: LabelSchema,
    private editable: boolean,
    private readonly events: PanelEvents,
  ) {}

  setEditable(editable: boolean): void {
    this.editable = editable;
    this.render(this.findings);
  }

  setReview(review: PanelReview): void {
    this.review = review;
    if (!review.drafts) this.boxes.clear();
    this.render(this.findings);
  }

  render(findings: readonly Finding[]): void {
    this.findings = findings;
    // A redraw must not take the caret out of the comment being typed.
    const focused = document.activeElement instanceof HTMLTextAreaElement && this.element.contains(document.activeElement) ? document.activeElement : null;
    const caret = focused ? [focused.selectionStart, focused.selectionEnd] as const : null;
    const heading = h("h2", {}, `Findings (${findings.length})`);
    if (findings.length === 0) {
      this.element.replaceChildren(heading, h("p", { className: "nf-muted" }, this.editable ? "No nodule drawn. Paint one with the brush (B)." : "No nodule drawn."));
      return;
    }
    this.element.replaceChildren(heading, ...findings.map((finding, n) => this.row(finding, n + 1)));
    if (focused && caret && this.element.contains(focused)) {
      focused.focus();
      focused.setSelectionRange(caret[0], caret[1]);
    }
  }

  private commentBox(finding: Finding, drafts: Map<string, string>, label: string): HTMLTextAreaElement {
    let box = this.boxes.get(finding.id);
    if (!box) {
      box = h("textarea", { className: "nf-finding-comment", rows: 2, "aria-label": `Comment on ${label}`, placeholder: "Comment on this finding", "data-finding-comment": finding.id });
      box.value = drafts.get(finding.id) ?? "";
      const element = box;
      box.addEventListener("input", () => drafts.set(finding.id, element.value));
      this.boxes.set(finding.id, box);
    }
    return box;
  }

  private row(finding: Finding, number: number): HTMLElement {
    const segment = this.schema.segments.find((s) => s.index === finding.segment);
    const title = h(
      "button",
      { type: "button", className: "nf-finding-jump", title: "Show this nodule" },
      h("span", { className: "nf-swatch", style: `background:${segment?.colour ?? "#888"}` }),
      `${segment?.name ?? `Segment ${finding.segment}`} ${number}`,
    );
    title.addEventListener("click", () => {
      this.selected = finding.id;
      this.element.querySelectorAll(".nf-finding").forEach((el) => el.classList.toggle("nf-selected", el === row));
      this.events.onJump(finding);
    });
    const [x, y, z] = finding.centroid_mm;
    const facts = h(
      "dl",
      { className: "nf-facts" },
      h("dt", {}, "Volume"), h("dd", {}, `${finding.volume_mm3.toFixed(1)} mm³`),
      h("dt", {}, "Long axis"), h("dd", {}, `${finding.long_axis_mm.toFixed(1)} mm`),
      h("dt", {}, "Centre"), h("dd", {}, `${x.toFixed(1)}, ${y.toFixed(1)}, ${z.toFixed(1)} mm`),
      finding.confidence !== null ? h("dt", {}, "Model") : null,
      finding.confidence !== null ? h("dd", {}, `confidence ${(finding.confidence * 100).toFixed(0)} %`) : null,
    );
    const attributes = h(
      "div",
      { className: "nf-attributes" },
      ...this.schema.attributes.map((attribute) => {
        const current = finding.attributes[attribute.name];
        const select = h(
          "select",
          { name: attribute.name, disabled: !this.editable, "aria-label": attribute.label },
          h("option", { value: "" }, "—"),
          ...Object.entries(attribute.choices).map(([value, label]) =>
            h("option", { value, selected: current !== undefined && String(current) === value }, `${value} · ${label}`),
          ),
        );
        select.addEventListener("change", () => {
          this.events.onAttribute(finding.id, attribute.name, select.value === "" ? null : Number(select.value));
        });
        return h("label", {}, h("span", {}, attribute.label), select);
      }),
    );
    const comments = finding.comments.length
      ? h(
          "ul",
          { className: "nf-comments", "aria-label": "Reviewer comments" },
          ...finding.comments.map((c) => h("li", {}, h("strong", {}, c.author), ` ${c.text}`)),
        )
      : null;
    const notes = this.review.notes?.byFinding.get(finding.id) ?? [];
    const reviewerNotes = notes.length
      ? h(
          "ul",
          { className: "nf-review-notes", "aria-label": `Comments of ${this.review.notes?.reviewer ?? "the reviewer"}` },
          ...notes.map((text) => h("li", {}, h("strong", {}, this.review.notes?.reviewer ?? "Reviewer"), ` ${text}`)),
        )
      : null;
    const label = `${segment?.name ?? `Segment ${finding.segment}`} ${number}`;
    const box = this.review.drafts ? this.commentBox(finding, this.review.drafts, label) : null;
    const row = h(
      "article",
      { className: `nf-finding${this.selected === finding.id ? " nf-selected" : ""}`, "data-finding-id": finding.id },
      title,
      reviewerNotes,
      facts,
      comments,
      box,
      attributes,
    );
    return row;
  }
}
