"""Sections of the project page contributed by apps further along the chain.

`projects` may not import `imaging` or `annotations` (see DESIGN.md), so those apps register
what they show about a project here, from their AppConfig.ready().
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from accounts.models import User
from projects.models import Project


@dataclass(frozen=True, slots=True)
class ProjectPanel:
    key: str
    title: str
    template: str
    order: int
    context: Callable[[Project, User], dict[str, Any]]


_PANELS: dict[str, ProjectPanel] = {}


def register_panel(panel: ProjectPanel) -> None:
    _PANELS[panel.key] = panel


def panels() -> list[ProjectPanel]:
    return sorted(_PANELS.values(), key=lambda panel: panel.order)
