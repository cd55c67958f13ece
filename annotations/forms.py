from django import forms

from accounts.models import User
from projects.models import Assignment, Project


class CreateTasksForm(forms.Form):
    """A lead's selection of studies, and how their series become reader tasks."""

    studies = forms.TypedMultipleChoiceField(coerce=int, label="Studies")
    readers = forms.IntegerField(min_value=1, max_value=4, label="Readers per series")
    priority = forms.IntegerField(initial=0)
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    assignment = forms.ChoiceField(choices=Assignment.choices)

    def __init__(
        self, *args: object, project: Project, studies: list[tuple[int, str]], **kw: object
    ):
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        field = self.fields["studies"]
        assert isinstance(field, forms.TypedMultipleChoiceField)
        field.choices = studies
        self.fields["readers"].initial = project.readers_per_series
        self.fields["assignment"].initial = project.assignment


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=User.objects.none(), to_field_name="username", required=False
    )

    def __init__(self, *args: object, annotators: list[User], **kw: object):
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        field = self.fields["assignee"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = User.objects.filter(pk__in=[a.pk for a in annotators]).order_by("username")


class WorkflowForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ("readers_per_series", "assignment", "tasks_on_ingest", "preannotate_on_ingest")
        labels = {
            "readers_per_series": "Independent readers per series",
            "tasks_on_ingest": "Create tasks for every new series",
            "preannotate_on_ingest": "Pre-annotate every new series",
        }

    def clean_readers_per_series(self) -> int:
        value = int(self.cleaned_data["readers_per_series"])
        if not 1 <= value <= 4:
            raise forms.ValidationError("1 to 4 readers")
        return value
