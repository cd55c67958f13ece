from django import forms

from accounts.models import Role, User


class AddMemberForm(forms.Form):
    username = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("username"),
        to_field_name="username",
        label="User",
    )
    role = forms.ChoiceField(choices=Role.choices)
