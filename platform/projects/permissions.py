"""Who may do what in a project: one table, checked by every API view and page."""

from enum import Enum

from accounts.models import Role, User
from config.errors import Forbidden
from projects.models import Project
from projects.selectors import roles_of


class Action(Enum):
    VIEW = "view the project"
    CHANGE = "change the project"
    MANAGE_MEMBERS = "manage members"
    DELETE = "delete the project"
    UPLOAD = "upload images"
    MANAGE_TASKS = "create and assign tasks"
    VIEW_DASHBOARD = "see the project's dashboard"


# Site admins may do everything; a member may do what one of their roles allows.
ALLOWED_ROLES: dict[Action, frozenset[Role]] = {
    Action.VIEW: frozenset(Role),
    Action.CHANGE: frozenset({Role.LEAD}),
    Action.MANAGE_MEMBERS: frozenset({Role.LEAD}),
    Action.DELETE: frozenset(),
    # Leads and annotators bring images in; reviewers only judge labels.
    Action.UPLOAD: frozenset({Role.LEAD, Role.ANNOTATOR}),
    Action.MANAGE_TASKS: frozenset({Role.LEAD}),
    Action.VIEW_DASHBOARD: frozenset({Role.LEAD}),
}


def can(user: User, action: Action, project: Project) -> bool:
    if user.is_site_admin:
        return True
    return bool(roles_of(user, project) & ALLOWED_ROLES[action])


def require(user: User, action: Action, project: Project) -> None:
    """Raise Forbidden, naming the action and the roles that may do it, unless `user` can."""
    if not can(user, action, project):
        roles = sorted(role.label.lower() for role in ALLOWED_ROLES[action])
        who = " or ".join([*roles, "site admin"]) if roles else "a site admin"
        raise Forbidden(f"only {who} may {action.value}")
