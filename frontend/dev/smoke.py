"""Drive the dev harness in headless Chromium and take screenshots (manual check, not CI).

    /path/to/venv-with-playwright/bin/python dev/smoke.py [--url http://127.0.0.1:8791/tasks/1/] [--out /tmp/nf]
"""

import argparse
import json
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

parser = argparse.ArgumentParser()
parser.add_argument("--url", default="http://127.0.0.1:8791/tasks/1/")
parser.add_argument("--out", default="/tmp/nf")
parser.add_argument("--steps", default="load,draw,save,mpr,conflict")
args = parser.parse_args()
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
origin = args.url.split("/tasks/")[0]
steps = args.steps.split(",")


def saves() -> list:
    return json.loads(urllib.request.urlopen(origin + "/dev/saves").read())


with sync_playwright() as p:
    browser = p.chromium.launch(
        executable_path="/usr/bin/chromium",
        args=["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"],
    )
    page = browser.new_page(viewport={"width": 1500, "height": 950})
    logs: list[str] = []
    page.on("console", lambda m: logs.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: logs.append(f"pageerror: {e}"))
    t0 = time.time()
    page.goto(args.url)
    try:
        page.wait_for_selector(".nf-viewport canvas", timeout=60_000)
        page.wait_for_function("document.querySelector('.nf-progress')?.hidden === true", timeout=120_000)
    except Exception:
        page.screenshot(path=str(out / "0-failed.png"))
        print("\n".join(logs)[:8000])
        raise
    print(f"loaded in {time.time() - t0:.1f}s; save state: {page.inner_text('.nf-save-state')!r}")
    banner = page.locator(".nf-banner")
    if banner.count():
        print("banner:", banner.first.inner_text())
    page.wait_for_timeout(1500)
    page.screenshot(path=str(out / "1-loaded.png"))
    print("findings:", page.inner_text(".nf-findings")[:300].replace("\n", " | "))

    if "jump" in steps:
        page.locator(".nf-finding:has(.nf-comments) .nf-finding-jump").click()
        page.wait_for_timeout(1200)
        page.keyboard.press("l")
        page.wait_for_timeout(2500)
        page.locator(".nf-finding:has(.nf-comments) .nf-finding-jump").click()
        page.wait_for_timeout(1500)
        page.screenshot(path=str(out / "7-jump.png"))
        page.keyboard.press("l")
        page.wait_for_timeout(1000)

    if "draw" in steps:
        vp = page.locator(".nf-viewport").first
        box = vp.bounding_box()
        assert box
        page.keyboard.press("1")
        page.keyboard.press("b")
        for _ in range(3):
            page.keyboard.press("]")
        cx, cy = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx + 30, cy + 10, steps=8)
        page.mouse.up()
        page.wait_for_timeout(1200)
        page.screenshot(path=str(out / "2-drawn.png"))
        print("after draw:", page.inner_text(".nf-findings")[:200].replace("\n", " | "))
        print("readout:", page.inner_text(".nf-readout"))
        page.keyboard.press("Control+z")
        page.wait_for_timeout(800)
        print("after undo:", page.inner_text(".nf-findings")[:120].replace("\n", " | "))
        page.keyboard.press("Control+y")
        page.wait_for_timeout(800)
        print("after redo:", page.inner_text(".nf-findings")[:120].replace("\n", " | "))

    if "save" in steps:
        page.keyboard.press("Control+s")
        page.wait_for_timeout(2500)
        print("save state:", page.inner_text(".nf-save-state"))
        for s in saves():
            print("server got:", {k: s[k] for k in ("id", "parent_id", "bytes", "voxels")}, "findings", len(s["findings"]))

    if "mpr" in steps:
        page.keyboard.press("l")
        page.wait_for_timeout(2500)
        page.screenshot(path=str(out / "3-mpr.png"))
        page.keyboard.press("l")
        page.wait_for_timeout(800)

    if "conflict" in steps:
        urllib.request.urlopen(urllib.request.Request(origin + "/dev/conflict-next", method="POST", data=b""))
        page.keyboard.press("b")
        vp = page.locator(".nf-viewport").first
        box = vp.bounding_box()
        assert box
        page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.4)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.72, box["y"] + box["height"] * 0.42, steps=4)
        page.mouse.up()
        page.wait_for_timeout(800)
        page.keyboard.press("Control+s")
        page.wait_for_selector("dialog[open]", timeout=10_000)
        page.screenshot(path=str(out / "4-conflict.png"))
        page.click("dialog[open] >> text=Keep mine as a new revision")
        page.wait_for_timeout(2500)
        print("after keep mine:", page.inner_text(".nf-save-state"))
        for s in saves()[-1:]:
            print("server got:", {k: s[k] for k in ("id", "parent_id", "bytes", "voxels")})

    if "interp" in steps:
        vp = page.locator(".nf-viewport").first
        box = vp.bounding_box()
        assert box
        page.keyboard.press("b")
        px, py = box["x"] + box["width"] * 0.62, box["y"] + box["height"] * 0.45
        def dab() -> None:
            page.mouse.move(px, py)
            page.mouse.down()
            page.mouse.move(px + 3, py + 3, steps=2)
            page.mouse.up()
            page.wait_for_timeout(600)
        dab()
        for _ in range(4):
            page.keyboard.press("ArrowDown")
        page.wait_for_timeout(400)
        dab()
        before = page.inner_text(".nf-findings h2")
        page.keyboard.press("i")
        page.wait_for_timeout(1500)
        print("interpolate:", before, "->", page.inner_text(".nf-findings h2"), "|", page.inner_text(".nf-toasts"))
        page.screenshot(path=str(out / "6-interp.png"))
        page.keyboard.press("Control+z")
        page.wait_for_timeout(1000)
        print("undo interpolation:", page.inner_text(".nf-findings h2"))

    if "help" in steps:
        page.keyboard.press("?")
        page.wait_for_timeout(300)
        page.screenshot(path=str(out / "5-help.png"))
        page.keyboard.press("Escape")

    print("\n".join(line for line in logs if not line.startswith("debug"))[:6000])
    browser.close()
