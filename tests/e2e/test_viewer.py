"""The task viewer in Chromium against a live server on LIDC-IDRI-0001 (see conftest.py).

What a radiologist does: sign in, open the task with the model's pre-annotation, paint a stroke,
save, see the page's History follow, reload and find it again; and what happens when two tabs
save from the same parent.
"""

import io
import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pydicom
import pytest
import requests
from django.conf import settings
from PIL import Image
from playwright.sync_api import Page, Request, expect

from annotations import labelmaps
from tests.e2e.conftest import LIDC_0001, Case

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

LOAD_TIMEOUT_MS = 60_000
# The stroke: a drag across the patient's right lung (left of the image), some slices away from
# the middle one the viewer opens on.
SLICES_UP = 20
STROKE_FROM = (0.30, 0.45)  # fractions of the viewport's width and height
STROKE_TO = (0.36, 0.48)
# The stroke shared between the axial stack and the MPR views: in the other lung, further up.
SHARED_SLICES_UP = 30
SHARED_FROM = (0.62, 0.55)
SHARED_TO = (0.66, 0.57)
# The task page's History section, fetched alone after each save.
HISTORY_SECTION = re.compile(r"/tasks/\d+/history/$")
READOUT = re.compile(r"Slice (\d+)/\d+ · \(([-\d.]+), ([-\d.]+), ([-\d.]+)\) mm")


def sign_in_and_open(page: Page, server: str, case: Case) -> None:
    page.goto(f"{server}/tasks/{case.task_id}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Username").fill(case.annotator)
    page.get_by_label("Password").fill(case.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(rf"/tasks/{case.task_id}/$"))
    wait_until_loaded(page)


def wait_until_loaded(page: Page) -> None:
    """Every frame loaded and the labelmap shown: the viewer's root says data-state=ready."""
    viewer = page.locator("#viewer")
    expect(viewer).to_have_attribute(
        "data-state", re.compile("ready|error"), timeout=LOAD_TIMEOUT_MS
    )
    expect(viewer).to_have_attribute("data-state", "ready")
    expect(page.locator(".nf-progress")).to_be_hidden()
    expect(page.locator(".nf-toast-error")).to_have_count(0)


def viewport_image(page: Page) -> np.ndarray:
    """What the axial view shows, as RGB."""
    png = page.locator(".nf-viewport").first.screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)


def redness(image: np.ndarray, fraction: tuple[float, float]) -> float:
    """How much redder than grey a 9x9 patch of `image` is around a point (fractions of w, h)."""
    x0, y0 = (round(f * n) for f, n in zip(fraction, image.shape[1::-1], strict=True))
    patch = image[y0 - 4 : y0 + 5, x0 - 4 : x0 + 5]
    return float((patch[..., 0] - patch[..., 1:].mean(axis=-1)).mean())


def at(page: Page, fraction: tuple[float, float]) -> tuple[float, float]:
    box = page.locator(".nf-viewport").first.bounding_box()
    assert box is not None
    return box["x"] + box["width"] * fraction[0], box["y"] + box["height"] * fraction[1]


def world_under(page: Page, fraction: tuple[float, float]) -> tuple[int, np.ndarray]:
    """Hover over a point of the axial view; the readout says the slice and where it is in mm."""
    page.mouse.move(*at(page, fraction))
    readout = page.locator(".nf-cursor")
    expect(readout).to_contain_text("mm")
    match = READOUT.match(readout.inner_text())
    assert match, readout.inner_text()
    return int(match[1]), np.array([float(match[i]) for i in (2, 3, 4)])


def scroll_up(page: Page, slices: int) -> None:
    page.mouse.move(*at(page, (0.5, 0.5)))
    for _ in range(slices):
        page.keyboard.press("ArrowUp")


def paint_stroke(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.locator("button[data-tool=brush]").click()
    expect(page.locator("button[data-tool=brush]")).to_have_attribute("aria-pressed", "true")
    page.mouse.move(*at(page, start))
    page.mouse.down()
    page.mouse.move(*at(page, end), steps=8)
    page.mouse.up()


def save_and_wait(page: Page, *, with_button: bool = False) -> int:
    """Ctrl+S (or the Save button); the server answers 201 and the header says which revision
    it became."""
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/revisions/")
    ) as saved:
        if with_button:
            page.get_by_role("button", name="Save", exact=True).click()
        else:
            page.keyboard.press("Control+s")
    assert saved.value.status == 201, saved.value.text()
    state = page.locator(".nf-save-state")
    expect(state).to_have_attribute("data-state", "clean")
    expect(state).to_have_text(re.compile(r"Saved as revision \d+"))
    return int(re.findall(r"\d+", state.inner_text())[-1])


def api_get(server: str, case: Case, path: str) -> requests.Response:
    response = requests.get(
        f"{server}/api/annotations/{path}",
        headers={"Authorization": f"Token {case.token}"},
        timeout=30,
    )
    response.raise_for_status()
    return response


def stored_labelmap(server: str, case: Case, revision_id: int) -> labelmaps.Labelmap:
    payload = api_get(server, case, f"revisions/{revision_id}/labelmap").content
    return labelmaps.decode(payload, max_voxels=10**8)


def voxel_of(header: labelmaps.LabelmapHeader, world: np.ndarray) -> np.ndarray:
    """(slice, row, column) of a point in mm on the labelmap's grid (its header, not the DICOM)."""
    direction = np.array(header.direction).reshape(3, 3)  # rows: r, c, n
    offset = world - np.array(header.origin)
    column = offset @ direction[0] / header.spacing[2]
    row = offset @ direction[1] / header.spacing[1]
    slice_ = offset @ direction[2] / header.spacing[0]
    return np.array([slice_, row, column])


def findings_count(page: Page) -> int:
    heading = page.locator(".nf-findings h2")
    return int(re.findall(r"\d+", heading.inner_text())[0])


def history_revisions(page: Page) -> int:
    """The count in the task page's History summary ("History: N revisions, ...")."""
    summary = page.locator("#history > summary").inner_text()
    match = re.match(r"History: (\d+) revisions?,", summary)
    assert match, summary
    return int(match[1])


def expect_history_latest(page: Page, revision_id: int, revisions: int) -> None:
    """The History section, as the server now renders it: the count, and the revision on top
    with the one "latest" marker."""
    history = page.locator("#history")
    expect(history.locator("summary")).to_contain_text(
        re.compile(rf"^History: {revisions} revisions?,")
    )
    top = history.locator("table.revisions tbody tr").first
    expect(top).to_have_attribute("data-revision", str(revision_id))
    expect(top.locator(".state")).to_have_text("latest")
    expect(history.locator("table.revisions .state")).to_have_count(1)


def test_the_built_viewer_and_its_wasm_codecs_are_served(server: str):
    """Every file of frontend/dist's manifest, and the codecs the decode worker fetches on first
    use of a compressed syntax (the LIDC frames are raw, so the pages above never ask for them),
    with the types the browser needs (WebAssembly streaming compilation wants application/wasm)."""
    dist = settings.FRONTEND_DIST
    manifest = json.loads((dist / "manifest.json").read_text())
    files = {chunk["file"] for chunk in manifest.values()}
    files |= {css for chunk in manifest.values() for css in chunk.get("css", [])}
    wasm = {f"assets/{path.name}" for path in (dist / "assets").glob("*.wasm")}
    assert wasm, "the build has no WebAssembly codecs"
    for name in sorted(files | wasm):
        response = requests.get(f"{server}/static/{name}", timeout=30)
        assert response.status_code == 200, name
        assert len(response.content) == (dist / name).stat().st_size, name
        expected = {".js": "text/javascript", ".css": "text/css", ".wasm": "application/wasm"}
        kind = expected.get(Path(name).suffix)
        if kind:
            assert response.headers["Content-Type"].startswith(kind), (name, response.headers)


def test_a_painted_stroke_is_saved_on_its_slice_and_shown_again_after_reload(
    server: str, lidc_case: Case, page: Page
):
    sign_in_and_open(page, server, lidc_case)
    state = page.locator(".nf-save-state")
    expect(state).to_have_text(re.compile(rf"^Revision {lidc_case.model_revision_id} by model "))
    model_findings = findings_count(page)
    assert model_findings >= 1  # the big nodule of LIDC-IDRI-0001

    shown = viewport_image(page)
    grey = shown.mean(axis=2)
    assert grey.std() > 25, "the axial view looks blank"
    assert (grey > 40).mean() > 0.2, "the axial view is mostly black"

    scroll_up(page, SLICES_UP)
    start_slice, start_mm = world_under(page, STROKE_FROM)
    _, end_mm = world_under(page, STROKE_TO)
    before = viewport_image(page)
    paint_stroke(page, STROKE_FROM, STROKE_TO)
    expect(page.locator(".nf-findings h2")).to_have_text(f"Findings ({model_findings + 1})")
    expect(state).to_have_attribute("data-state", "dirty")
    assert redness(viewport_image(page), STROKE_FROM) > redness(before, STROKE_FROM) + 30
    revisions = history_revisions(page)
    page.evaluate("window.nfSamePage = true")
    revision_id = save_and_wait(page)
    # The page's History section follows the save, without a reload.
    expect_history_latest(page, revision_id, revisions + 1)
    # So does the heading's task state: the first save started the task.
    expect(page.locator("h1 [data-task-state]")).to_have_text("In progress")
    assert page.evaluate("window.nfSamePage === true")

    task = api_get(server, lidc_case, f"tasks/{lidc_case.task_id}/").json()
    assert task["latest_revision"]["id"] == revision_id
    assert task["latest_revision"]["parent_id"] == lidc_case.model_revision_id
    assert task["latest_revision"]["author_kind"] == "user"
    assert len(task["latest_revision"]["findings"]) == model_findings + 1
    model = stored_labelmap(server, lidc_case, lidc_case.model_revision_id)
    saved = stored_labelmap(server, lidc_case, revision_id)
    assert saved.header.shape == model.header.shape == (lidc_case.slices, 512, 512)
    painted = np.argwhere(saved.voxels != model.voxels)
    assert len(painted) > 200, f"only {len(painted)} voxels changed"
    assert (saved.voxels[tuple(painted.T)] == 1).all(), "the stroke is not in the first segment"
    start, end = voxel_of(saved.header, start_mm), voxel_of(saved.header, end_mm)
    # One slice: the one under the mouse (k, from the readout's mm, on the server's grid).
    assert set(painted[:, 0]) == {round(start[0])}, (set(painted[:, 0]), start, end)
    # Along the drag: every painted voxel within the brush radius (8 mm) of the segment.
    radius_voxels = 8 / saved.header.spacing[2] + 2
    segment = end[1:] - start[1:]
    t = np.clip(((painted[:, 1:] - start[1:]) @ segment) / (segment @ segment), 0, 1)
    distance = np.linalg.norm(painted[:, 1:] - (start[1:] + t[:, None] * segment), axis=1)
    assert distance.max() <= radius_voxels, distance.max()

    page.reload()
    wait_until_loaded(page)
    expect(state).to_have_text(re.compile(rf"^Revision {revision_id} by "))
    assert findings_count(page) == model_findings + 1
    scroll_up(page, SLICES_UP)
    assert world_under(page, STROKE_FROM)[0] == start_slice
    # Under the stroke the overlay tints the lung in the segment's colour (red).
    assert redness(viewport_image(page), STROKE_FROM) > redness(before, STROKE_FROM) + 30


def test_every_frame_is_fetched_once_by_the_entry_module_and_drawn_from_those_bytes(
    server: str, lidc_case: Case, page: Page
):
    """The frames go out from the entry module before Cornerstone has loaded: the first alone from
    the page (the slice it opens on, which the page names), the rest from its fetch worker as
    series pixel data, a few instances per request, each instance once. Cornerstone's image
    loader takes them from there and asks for no frame itself (its requests would be XHRs). The
    series' metadata is asked once: the page preloads it and the entry module's fetch takes that
    response."""
    frames: list[tuple[str, str]] = []
    pixeldata: list[tuple[str, str]] = []
    metadata: list[str] = []

    def note(request: Request) -> None:
        if "/frames/" in request.url:
            frames.append((request.url, request.resource_type))
        elif "/pixeldata" in request.url:
            pixeldata.append((request.url, request.resource_type))
        elif request.url.endswith("/metadata"):
            metadata.append(request.url)

    page.on("request", note)
    sign_in_and_open(page, server, lidc_case)
    assert len(frames) == 1, f"{len(frames)} frame requests"
    listed = [frames[0][0].rsplit("/instances/", 1)[1].split("/")[0]]
    # The page named that slice (imaging.selectors.opening_slice): it went out with the metadata.
    assert listed[0] == page.locator("#viewer").get_attribute("data-opening-slice")
    for url, _ in pixeldata:
        listed += parse_qs(urlsplit(url).query)["SOPInstanceUID"][0].split(",")
    assert len(listed) == len(set(listed)) == lidc_case.slices, "an instance asked twice or never"
    assert 1 < len(pixeldata) < lidc_case.slices / 8, f"{len(pixeldata)} pixel data requests"
    assert {kind for _, kind in frames + pixeldata} == {"fetch"}, "Cornerstone asked itself"
    from_worker = page.evaluate("performance.getEntriesByName('nf:frame-received').length")
    assert from_worker == lidc_case.slices - 1
    assert len(metadata) == 1, metadata
    grey = viewport_image(page).mean(axis=2)
    assert grey.std() > 25, "the axial view looks blank"


def test_a_stroke_on_a_slice_without_labels_is_drawn_at_once_and_undone_at_once(
    server: str, lidc_case: Case, page: Page
):
    """The overlay of a slice with no label is not drawn (overlayPass.ts): the first stroke on
    such a slice must still show at once, and its undo take it away again."""
    sign_in_and_open(page, server, lidc_case)
    model = stored_labelmap(server, lidc_case, lidc_case.model_revision_id)
    for _ in range(60):
        _, mm = world_under(page, STROKE_FROM)
        if not model.voxels[round(voxel_of(model.header, mm)[0])].any():
            break
        scroll_up(page, 1)
    else:
        pytest.fail("no slice without the model's labels within 60 slices of the middle")
    before = redness(viewport_image(page), STROKE_FROM)
    paint_stroke(page, STROKE_FROM, STROKE_TO)
    assert redness(viewport_image(page), STROKE_FROM) > before + 30
    page.keyboard.press("Control+z")
    for _ in range(20):
        if abs(redness(viewport_image(page), STROKE_FROM) - before) < 10:
            break
        page.wait_for_timeout(100)
    else:
        pytest.fail("the undone stroke is still drawn")


def hounsfield_under(page: Page, fraction: tuple[float, float]) -> tuple[np.ndarray, int]:
    """Hover over a point of the axial view: where it is in mm and the HU the readout gives."""
    page.mouse.move(*at(page, fraction))
    readout = page.locator(".nf-cursor")
    expect(readout).to_contain_text("HU")
    text = readout.inner_text()
    match = READOUT.match(text)
    assert match, text
    return np.array([float(match[i]) for i in (2, 3, 4)]), int(text.rsplit("·", 1)[1].split()[0])


def test_the_values_under_the_cursor_are_the_files_hounsfield_units(
    server: str, lidc_case: Case, page: Page
):
    """The frames are decoded in the fetch worker, not by Cornerstone's loader: what the viewer
    holds must still be each file's stored values times RescaleSlope plus RescaleIntercept."""
    sign_in_and_open(page, server, lidc_case)
    files = [pydicom.dcmread(f) for f in sorted(LIDC_0001.rglob("*.dcm"))]
    images = [ds for ds in files if "PixelData" in ds]
    for slices_up, point in [(0, (0.30, 0.45)), (0, (0.5, 0.5)), (12, (0.62, 0.55))]:
        scroll_up(page, slices_up)
        world, shown = hounsfield_under(page, point)
        ds = min(images, key=lambda d: abs(float(d.ImagePositionPatient[2]) - world[2]))
        offset = world - np.array(ds.ImagePositionPatient, dtype=float)
        orientation = np.array(ds.ImageOrientationPatient, dtype=float)
        column = round(offset @ orientation[:3] / float(ds.PixelSpacing[1]))
        row = round(offset @ orientation[3:] / float(ds.PixelSpacing[0]))
        hu = ds.pixel_array.astype(float) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        near = hu[max(0, row - 1) : row + 2, max(0, column - 1) : column + 2]
        assert shown in {round(v) for v in near.ravel()}, (shown, near, row, column)


def test_a_save_from_a_stale_tab_is_told_of_the_conflict_and_can_keep_its_version(
    server: str, lidc_case: Case, page: Page
):
    sign_in_and_open(page, server, lidc_case)
    first = page
    second = page.context.new_page()
    second.goto(f"{server}/tasks/{lidc_case.task_id}/")
    wait_until_loaded(second)
    parent = api_get(server, lidc_case, f"tasks/{lidc_case.task_id}/").json()["latest_revision"]

    paint_stroke(first, (0.30, 0.40), (0.32, 0.42))
    saved_first = save_and_wait(first, with_button=True)

    paint_stroke(second, (0.62, 0.40), (0.64, 0.42))
    with second.expect_response(lambda r: r.url.endswith("/revisions/")) as refused:
        second.keyboard.press("Control+s")
    assert refused.value.status == 409
    dialog = second.locator("dialog[open]")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Someone saved this task since you opened it")
    expect(dialog.get_by_role("button", name="Reload")).to_be_visible()
    keep = dialog.get_by_role("button", name="Keep mine as a new revision")
    expect(keep).to_be_visible()
    expect(second.locator(".nf-save-state")).to_have_attribute("data-state", "conflict")

    with second.expect_response(lambda r: r.url.endswith("/revisions/")) as kept:
        keep.click()
    assert kept.value.status == 201
    expect(dialog).to_have_count(0)
    expect(second.locator(".nf-save-state")).to_have_text(re.compile(r"Saved as revision \d+"))
    latest = api_get(server, lidc_case, f"tasks/{lidc_case.task_id}/").json()["latest_revision"]
    assert latest["parent_id"] == saved_first
    assert saved_first != parent["id"]
    # The stale tab's History shows the server's revisions: the other tab's, then its own on top.
    rows = second.locator("#history table.revisions tbody tr")
    expect(rows.nth(0)).to_have_attribute("data-revision", str(latest["id"]))
    expect(rows.nth(1)).to_have_attribute("data-revision", str(saved_first))


def test_the_history_stays_folded_and_keeps_its_rows_when_a_refresh_fails(
    server: str, lidc_case: Case, page: Page
):
    sign_in_and_open(page, server, lidc_case)
    history = page.locator("#history")
    revisions = history_revisions(page)
    history.locator("summary").click()  # the radiologist folds it away
    expect(history).to_have_js_property("open", False)
    page.evaluate("window.scrollTo(0, 0)")  # back to the viewer, where the strokes go

    page.route(HISTORY_SECTION, lambda route: route.fulfill(status=500, body="down"))
    paint_stroke(page, (0.30, 0.40), (0.32, 0.42))
    with page.expect_console_message(
        lambda m: "History section was not refreshed" in m.text
    ) as warned:
        save_and_wait(page)
    assert warned.value.type == "warning"
    assert warned.value.text.endswith("the server answered 500")
    assert history_revisions(page) == revisions
    expect(page.locator(".nf-toast-error")).to_have_count(0)

    page.unroute(HISTORY_SECTION)
    paint_stroke(page, (0.62, 0.40), (0.64, 0.42))
    revision_id = save_and_wait(page)
    expect_history_latest(page, revision_id, revisions + 2)
    expect(history).to_have_js_property("open", False)


def red_pixels(image: np.ndarray) -> int:
    """How many pixels the overlay tints in the first segment's colour (red)."""
    return int(((image[..., 0] - image[..., 1:].mean(axis=-1)) > 60).sum())


def viewport_types(page: Page) -> list[str]:
    return page.locator(".nf-viewport").evaluate_all(
        "elements => elements.map(e => e.dataset.viewportType)"
    )


def switch_layout(page: Page, layout: str) -> None:
    page.keyboard.press("l")
    expect(page.locator(f"button[data-layout={layout}]")).to_have_attribute("aria-pressed", "true")


def test_the_axial_view_is_a_stack_sharing_its_labels_and_undo_with_the_mpr_views(
    server: str, lidc_case: Case, page: Page
):
    """The single axial view draws through a stack viewport (cheaper per frame than a volume's
    ray cast); what is drawn there is the MPR views' labelmap: it shows there, Ctrl+Z there
    takes it away and Ctrl+Y brings it back, and it is in the stack again after L."""
    sign_in_and_open(page, server, lidc_case)
    assert viewport_types(page) == ["stack"]
    # A first visit to the MPR views puts the labelmap's volume on the GPU: what is drawn in
    # the stack afterwards must reach it too.
    switch_layout(page, "mpr")
    assert viewport_types(page) == ["orthographic"] * 3
    switch_layout(page, "axial")
    assert viewport_types(page) == ["stack"]
    model_findings = findings_count(page)

    # Away from the strokes of the tests before, which the task's latest revision holds.
    scroll_up(page, SHARED_SLICES_UP)
    stroke_slice, stroke_mm = world_under(page, SHARED_FROM)
    paint_stroke(page, SHARED_FROM, SHARED_TO)
    expect(page.locator(".nf-findings h2")).to_have_text(f"Findings ({model_findings + 1})")
    page.locator("button[data-tool=windowLevel]").click()
    page.mouse.move(0, 0)
    red_in_stack = red_pixels(viewport_image(page))

    switch_layout(page, "mpr")
    scroll_up(page, SHARED_SLICES_UP)
    mpr_slice, mpr_mm = world_under(page, (0.5, 0.5))
    # The same slice, reached the same way, and called the same.
    assert abs(mpr_mm[2] - stroke_mm[2]) < 0.5, (mpr_mm, stroke_mm)
    assert mpr_slice == stroke_slice
    page.mouse.move(0, 0)
    red_with = red_pixels(viewport_image(page))
    page.keyboard.press("Control+z")
    expect(page.locator(".nf-findings h2")).to_have_text(f"Findings ({model_findings})")
    red_undone = red_pixels(viewport_image(page))
    assert red_undone < red_with - 50, (red_undone, red_with)
    page.keyboard.press("Control+y")
    expect(page.locator(".nf-findings h2")).to_have_text(f"Findings ({model_findings + 1})")
    assert abs(red_pixels(viewport_image(page)) - red_with) < 20

    switch_layout(page, "axial")
    assert viewport_types(page) == ["stack"]
    scroll_up(page, SHARED_SLICES_UP)
    page.mouse.move(0, 0)
    assert abs(red_pixels(viewport_image(page)) - red_in_stack) < 20, red_in_stack
