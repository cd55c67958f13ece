"""Forms of the imaging pages."""

from django import forms

SORTS = {
    "-created": ("Recently added", ("-created_at", "-id")),
    "created": ("First added", ("created_at", "id")),
    "-date": ("Newest study date", ("-study_date", "-study_time", "-id")),
    "date": ("Oldest study date", ("study_date", "study_time", "id")),
}
DEFAULT_SORT = "-created"


class StudySearchForm(forms.Form):
    """The study list's search box and sort order; any bad value falls back to the default."""

    q = forms.CharField(
        required=False,
        max_length=100,
        label="Search",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Patient name or ID, study description"}
        ),
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[(key, label) for key, (label, _) in SORTS.items()],
        label="Sort",
    )

    def query(self) -> str:
        return self.cleaned_data.get("q", "").strip() if self.is_valid() else ""

    def ordering(self) -> tuple[str, ...]:
        sort = (self.cleaned_data.get("sort") if self.is_valid() else "") or DEFAULT_SORT
        return SORTS[sort][1]
