from accounts.models import Role
from annotations.demo import DEMO_PROJECT_NAME, load_demo
from projects.models import Membership, Project


def test_demo_is_idempotent_and_keeps_its_passwords(db, tmp_path):
    logins_file = tmp_path / "demo_logins.json"
    project, first = load_demo(logins_file=logins_file)
    again, second = load_demo(logins_file=logins_file)
    assert again == project
    assert first == second
    assert Project.objects.filter(name=DEMO_PROJECT_NAME).count() == 1
    roles = set(Membership.objects.filter(project=project).values_list("user__username", "role"))
    assert roles == {
        ("lead", Role.LEAD),
        ("annotator1", Role.ANNOTATOR),
        ("annotator2", Role.ANNOTATOR),
        ("reviewer", Role.REVIEWER),
    }
    assert logins_file.stat().st_mode & 0o777 == 0o600
