"""Review in the viewer, in Chromium against a live server on LIDC-IDRI-0001 (see conftest.py).

The workflow of issue #7: the annotator hands in a revision (through the API, to keep it fast);
a reviewer starts the review, compares with the model's pre-annotation (overlay and diff),
comments on a finding and sends the task to rework; the annotator sees the comments; after the
task comes back, the reviewer edits and accepts. The task page lists the history, and any
revision opens read-only.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
import requests
from django.db import transaction
from playwright.sync_api import Browser, Page, expect
from rest_framework.authtoken.models import Token

from accounts.models import Role
from annotations import labelmaps
from annotations.models import Task
from tests.e2e.conftest import Case
from tests.e2e.test_viewer import paint_stroke, wait_until_loaded
from tests.factories import PASSWORD, MembershipFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

# The annotator's addition to the model's labels: a box of voxels away from the model's nodule.
BOX = (slice(40, 44), slice(300, 310), slice(120, 130))  # slices, rows, columns
BOX_VOXELS = 4 * 10 * 10
ADDED_ID = "annotator-added-1"
REWORK_COMMENT = "Check the margins against the lung window."
FINDING_COMMENT = "Too square: follow the nodule's edge."


@dataclass(frozen=True)
class Reviewer:
    username: str
    name: str  # how revisions name their author
    token: str


@pytest.fixture(scope="module")
def reviewer(lidc_case: Case, django_db_blocker) -> Iterator[Reviewer]:
    """A reviewer of the case's project (the module's teardown flushes the database)."""
    with django_db_blocker.unblock(), transaction.atomic():
        project_id = Task.objects.get(pk=lidc_case.task_id).project_id
        user = MembershipFactory.create(project_id=project_id, role=Role.REVIEWER).user
        token, _ = Token.objects.get_or_create(user=user)
    yield Reviewer(username=user.username, name=str(user), token=token.key)


def api(server: str, token: str, method: str, path: str, **kwargs) -> requests.Response:
    response = requests.request(
        method,
        f"{server}/api/annotations/{path}",
        headers={"Authorization": f"Token {token}"},
        timeout=60,
        **kwargs,
    )
    assert response.ok, (method, path, response.status_code, response.text)
    return response


def sign_in(page: Page, server: str, username: str, path: str) -> None:
    page.goto(f"{server}{path}")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(path.split("?")[0])))


def open_task(page: Page, server: str, username: str, task_id: int) -> None:
    sign_in(page, server, username, f"/tasks/{task_id}/")
    wait_until_loaded(page)


def world_of(header: labelmaps.LabelmapHeader, voxel: tuple[float, float, float]) -> list[float]:
    """A voxel index (slice, row, column) in mm, on the labelmap's grid."""
    direction = np.array(header.direction).reshape(3, 3)  # rows: r, c, n
    k, r, c = voxel
    world = (
        np.array(header.origin)
        + c * header.spacing[2] * direction[0]
        + r * header.spacing[1] * direction[1]
        + k * header.spacing[0] * direction[2]
    )
    return [float(v) for v in world]


def save_as_annotator(server: str, case: Case, box: tuple[slice, slice, slice]) -> int:
    """The model's labels plus `box` in segment 1, with a finding for it, saved on the latest."""
    task = api(server, case.token, "GET", f"tasks/{case.task_id}/").json()
    latest = task["latest_revision"]
    model = labelmaps.decode(
        api(server, case.token, "GET", f"revisions/{case.model_revision_id}/labelmap").content,
        max_voxels=10**8,
    )
    revisions = api(server, case.token, "GET", f"tasks/{case.task_id}/revisions/").json()
    (model_revision,) = [r for r in revisions if r["id"] == case.model_revision_id]
    model_findings = model_revision["findings"]
    voxels = model.voxels.copy()
    assert not voxels[box].any(), "the box overlaps the model's labels: move it"
    voxels[box] = 1
    count = int(voxels[box].size)
    centre = tuple((s.start + s.stop - 1) / 2 for s in box)
    spacing = model.header.spacing
    added = {
        "id": ADDED_ID,
        "segment": 1,
        "voxel_count": count,
        "volume_mm3": count * spacing[0] * spacing[1] * spacing[2],
        "long_axis_mm": 10.0,
        "centroid_mm": world_of(model.header, centre),
        "centroid_voxel": [round(v) for v in centre],
        "attributes": {},
        "confidence": None,
        "comments": [],
    }
    saved = api(
        server,
        case.token,
        "POST",
        f"tasks/{case.task_id}/revisions/",
        files={"labelmap": ("labelmap.nflm", labelmaps.encode(voxels, model.header))},
        data={"findings": json.dumps([*model_findings, added]), "parent_id": str(latest["id"])},
    )
    return int(saved.json()["id"])


def reviewer_takes_the_task(page: Page) -> None:
    viewer = page.locator("#viewer")
    expect(viewer).to_have_attribute("data-mode", "read")
    expect(viewer).to_have_attribute("data-task-state", "submitted")
    expect(page.locator("button[data-tool=brush]")).to_have_count(0)
    page.get_by_role("button", name="Start review").click()
    expect(viewer).to_have_attribute("data-mode", "review")
    expect(viewer).to_have_attribute("data-task-state", "in_review")
    expect(page.locator("button[data-tool=brush]")).to_be_visible()


def test_a_reviewer_compares_with_the_model_sends_to_rework_then_edits_and_accepts(
    server: str, lidc_case: Case, reviewer: Reviewer, browser: Browser, page: Page
):
    task_path = f"tasks/{lidc_case.task_id}/"
    first_saved = save_as_annotator(server, lidc_case, BOX)
    api(server, lidc_case.token, "POST", f"{task_path}submit/")

    # The reviewer opens the submitted task: read-only until they start the review.
    open_task(page, server, reviewer.username, lidc_case.task_id)
    viewer = page.locator("#viewer")
    reviewer_takes_the_task(page)

    # The model's pre-annotation as a second overlay, by key and by button.
    expect(viewer).to_have_attribute("data-model-overlay", "off")
    page.keyboard.press("m")
    expect(viewer).to_have_attribute("data-model-overlay", "on")
    expect(page.locator("button[data-overlay=model]")).to_have_attribute("aria-pressed", "true")
    page.locator("button[data-overlay=model]").click()
    expect(viewer).to_have_attribute("data-model-overlay", "off")

    # The diff: exactly the annotator's box is added, nothing of the model's is dropped.
    expect(viewer).to_have_attribute("data-diff", "off")
    page.keyboard.press("d")
    expect(viewer).to_have_attribute("data-diff", "on")
    expect(viewer).to_have_attribute("data-diff-added", str(BOX_VOXELS))
    expect(viewer).to_have_attribute("data-diff-removed", "0")
    expect(page.locator(".nf-diff-counts")).to_contain_text(
        f"+{BOX_VOXELS} / \N{MINUS SIGN}0 voxels"
    )
    page.keyboard.press("d")
    expect(viewer).to_have_attribute("data-diff", "off")

    # Rework with nothing said is refused, and the server's reason is shown beside the buttons.
    review = page.locator(".nf-review")
    review.get_by_role("button", name="Send to rework").click()
    expect(page.locator(".nf-review-error")).to_have_text(
        "say what needs rework: a comment or a comment on a finding"
    )
    expect(viewer).to_have_attribute("data-task-state", "in_review")

    # A comment on the annotator's finding, a general one, and back it goes.
    box = page.locator(f'textarea[data-finding-comment="{ADDED_ID}"]')
    box.fill(FINDING_COMMENT)
    review.get_by_label("General comment").fill(REWORK_COMMENT)
    review.get_by_role("button", name="Send to rework").click()
    expect(viewer).to_have_attribute("data-task-state", "rework")
    expect(viewer).to_have_attribute("data-mode", "read")
    expect(page.locator(".nf-review-error")).to_be_hidden()
    expect(page.get_by_role("link", name="Next task")).to_have_attribute("href", "/tasks/next/")
    expect(page.locator("button[data-tool=brush]")).to_have_count(0)
    # The page's History follows the decision, without a reload.
    expect(page.locator("#history table.reviews tbody tr")).to_have_count(1)
    task = api(server, reviewer.token, "GET", task_path).json()
    assert task["state"] == "rework"
    assert task["latest_revision"]["id"] == first_saved  # nothing was edited: nothing saved
    assert task["reviews"][0]["decision"] == "rework"
    assert task["reviews"][0]["comment"] == REWORK_COMMENT
    assert task["reviews"][0]["finding_comments"] == [
        {"finding_id": ADDED_ID, "text": FINDING_COMMENT}
    ]

    # The annotator sees the general comment in a banner and the finding's beside it.
    annotator = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    open_task(annotator, server, lidc_case.annotator, lidc_case.task_id)
    expect(annotator.locator("#viewer")).to_have_attribute("data-mode", "annotate")
    banner = annotator.locator(".nf-rework-banner")
    expect(banner).to_contain_text(f"Sent back for rework by {reviewer.username}")
    expect(banner).to_contain_text(REWORK_COMMENT)
    finding = annotator.locator(f'article[data-finding-id="{ADDED_ID}"]')
    expect(finding.locator(".nf-review-notes")).to_contain_text(FINDING_COMMENT)
    annotator.context.close()

    # The annotator shrinks the box and hands the task in again.
    second_saved = save_as_annotator(server, lidc_case, (slice(40, 42), BOX[1], BOX[2]))
    api(server, lidc_case.token, "POST", f"{task_path}submit/")

    # Edit, then accept: the reviewer's stroke is saved as their revision, which is accepted.
    page.reload()
    wait_until_loaded(page)
    reviewer_takes_the_task(page)
    # With the diff on, the stroke joins the voxels added to the model's labels as it is drawn.
    page.keyboard.press("d")
    expect(viewer).to_have_attribute("data-diff-added", str(BOX_VOXELS // 2))
    paint_stroke(page, (0.30, 0.45), (0.34, 0.47))
    expect(page.locator(".nf-save-state")).to_have_attribute("data-state", "dirty")
    page.wait_for_function(
        "n => Number(document.querySelector('#viewer').dataset.diffAdded) > n", arg=BOX_VOXELS
    )
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/accept/")
    ) as accepted:
        page.locator(".nf-review").get_by_role("button", name="Accept").click()
    assert accepted.value.status == 200, accepted.value.text()
    expect(viewer).to_have_attribute("data-task-state", "accepted")
    expect(viewer).to_have_attribute("data-mode", "read")
    expect(page.locator(".nf-review-done")).to_have_text("Accepted.")
    expect(page.get_by_role("link", name="Next task")).to_be_visible()
    task = api(server, reviewer.token, "GET", task_path).json()
    assert task["state"] == "accepted"
    latest = task["latest_revision"]
    assert latest["author"] == reviewer.name and latest["parent_id"] == second_saved
    assert task["reviews"][0]["decision"] == "accepted"
    assert task["reviews"][0]["revision_id"] == latest["id"]
    assert task["reviews"][0]["model_dice"] is not None
    # Before any reload, the page's History shows the reviewer's revision and both reviews.
    history = page.locator("#history")
    top = history.locator("table.revisions tbody tr").first
    expect(top).to_have_attribute("data-revision", str(latest["id"]))
    expect(history.locator("table.reviews tbody tr")).to_have_count(2)
    expect(history.locator("table.reviews tbody tr").first).to_contain_text("Accept")

    # The task page's history: every step, and each revision a link.
    page.goto(f"{server}/tasks/{lidc_case.task_id}/")
    rows = history.locator("table.events tr[data-action]")
    actions = set(rows.evaluate_all("rows => rows.map(r => r.dataset.action)"))
    assert {
        "task.created",
        "revision.created",
        "task.in_progress",
        "task.submitted",
        "task.in_review",
        "review.rework",
        "task.rework",
        "review.accepted",
        "task.accepted",
    } <= actions, actions
    revisions = history.locator("table.revisions tbody tr")
    expect(revisions).to_have_count(4)  # the model's, two of the annotator's, the reviewer's
    expect(history.locator("table.reviews tbody tr")).to_have_count(2)
    expect(history.locator("table.reviews")).to_contain_text(FINDING_COMMENT)
    expect(
        history.locator(f'a[href="?revision={lidc_case.model_revision_id}"]').first
    ).to_be_visible()


def test_any_revision_opens_read_only_from_the_history(
    server: str, lidc_case: Case, reviewer: Reviewer, page: Page
):
    first = lidc_case.model_revision_id
    open_task(page, server, reviewer.username, lidc_case.task_id)
    page.locator("#history table.revisions").get_by_role("link", name="Open read-only").last.click()
    expect(page).to_have_url(re.compile(rf"\?revision={first}$"))
    wait_until_loaded(page)
    viewer = page.locator("#viewer")
    expect(viewer).to_have_attribute("data-revision-id", str(first))
    expect(viewer).to_have_attribute("data-shown-revision", str(first))
    expect(viewer).to_have_attribute("data-mode", "read")
    banner = page.locator(".nf-revision-banner")
    expect(banner).to_contain_text(
        re.compile(rf"Viewing revision #{first} by model .+ — read-only")
    )
    expect(page.locator("button[data-tool=brush]")).to_have_count(0)
    expect(page.locator(".nf-save-state")).to_have_text(re.compile(rf"^Revision {first} by model "))
    expect(page.locator(f'#history tr[data-revision="{first}"]')).to_have_class("opened")

    banner.get_by_role("link", name="Open the latest revision").click()
    expect(page).to_have_url(re.compile(rf"/tasks/{lidc_case.task_id}/$"))
    wait_until_loaded(page)
    expect(page.locator(".nf-revision-banner")).to_have_count(0)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("abc", '"abc" is not a revision number'),
        ("987654", "has no revision #987654"),
    ],
)
def test_a_revision_that_is_not_the_tasks_gets_a_readable_message(
    server: str, lidc_case: Case, reviewer: Reviewer, page: Page, query: str, message: str
):
    sign_in(page, server, reviewer.username, f"/tasks/{lidc_case.task_id}/?revision={query}")
    viewer = page.locator("#viewer")
    expect(viewer).to_have_attribute("data-state", "error", timeout=60_000)
    expect(viewer).to_contain_text(message)
