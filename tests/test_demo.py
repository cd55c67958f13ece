from collections import Counter

from accounts.models import Role
from annotations.demo import DEMO_PROJECT_NAME, load_demo
from imaging.outcomes import Outcome
from projects.models import Membership, Project


def test_demo_is_idempotent_and_keeps_its_passwords(db, tmp_path):
    logins_file = tmp_path / "demo_logins.json"
    project, first, _ = load_demo(logins_file=logins_file)
    again, second, _ = load_demo(logins_file=logins_file)
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


def test_demo_loads_the_shared_lidc_cases_once(db, tmp_path, settings):
    data_dir = settings.SHARED_DATA_DIR / "lidc"
    _, _, reports = load_demo(logins_file=tmp_path / "logins.json", data_dir=data_dir)
    assert Counter(r.outcome for r in reports) == {Outcome.STORED: 273}
    project, _, again = load_demo(logins_file=tmp_path / "logins.json", data_dir=data_dir)
    assert Counter(r.outcome for r in again) == {Outcome.DUPLICATE: 273}
    assert sorted(project.series.values_list("instance_count", flat=True)) == [133, 140]
    # LIDC-IDRI-0001 waits for annotator1; LIDC-IDRI-0003 comes with its four LIDC readers
    # handed in and a consensus for the reviewer.
    assert sorted(project.tasks.values_list("assignee__username", flat=True)) == [
        "annotator1", "lidc-reader-1", "lidc-reader-2", "lidc-reader-3", "lidc-reader-4",
    ]  # fmt: skip
    assert project.consensuses.get().state == "proposed"
    assert project.tasks.count() == 5
