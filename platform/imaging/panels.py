from typing import Any

from accounts.models import User
from imaging.selectors import studies_of
from projects.models import Project
from projects.panels import ProjectPanel, register_panel
from projects.permissions import Action, can

STUDIES_SHOWN = 25


def _studies_context(project: Project, user: User) -> dict[str, Any]:
    studies = studies_of(project)
    return {
        "studies": studies[:STUDIES_SHOWN],
        "study_count": studies.count(),
        "can_upload": can(user, Action.UPLOAD, project),
    }


def register() -> None:
    register_panel(
        ProjectPanel(
            key="studies",
            title="Studies",
            template="imaging/panels/studies.html",
            order=20,
            context=_studies_context,
        )
    )
