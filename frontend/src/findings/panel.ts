// The findings panel: one row per nodule with its measurements, model confidence, reviewer
// comments and the schema's attributes (each an ordinal choice list).

import type { Finding, LabelSchema } from "../api/types";
import { h } from "../ui/dom";

export interface PanelEvents {
  onJump(finding: Finding): void;
  onAttribute(findingId: string, name: string, value: number | null): void;
}

export class FindingsPanel {
  readonly element = h("section", { className: "nf-findings", "aria-label": "Findings" });
  private selected: string | null = null;

  constructor(
    private readonly schema: LabelSchema,
    private readonly editable: boolean,
    private readonly events: PanelEvents,
  ) {}

  render(findings: readonly Finding[]): void {
    const heading = h("h2", {}, `Findings (${findings.length})`);
    if (findings.length === 0) {
      this.element.replaceChildren(heading, h("p", { className: "nf-muted" }, "No nodule drawn. Paint one with the brush (B)."));
      return;
    }
    this.element.replaceChildren(heading, ...findings.map((finding, n) => this.row(finding, n + 1)));
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
    const row = h(
      "article",
      { className: `nf-finding${this.selected === finding.id ? " nf-selected" : ""}`, "data-finding-id": finding.id },
      title,
      facts,
      comments,
      attributes,
    );
    return row;
  }
}
