"""Dev harness for the viewer (not part of the build): serves frontend/dist under /static/, a
task page, a DICOMweb subset (series metadata, frames) for one shared LIDC series, and a mock of
/api/annotations that checks every saved labelmap with the server's own decoder.

    ../.venv/bin/python dev/server.py [--port 8765] [--case LIDC-IDRI-0001] [--unfit]

Run from frontend/ after `npm run build`; open http://127.0.0.1:8791/tasks/1/.
"""

import argparse
import glob
import json
import sys
import uuid
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pydicom

FRONTEND = Path(__file__).resolve().parent.parent
REPO = FRONTEND.parent
sys.path[:0] = [str(REPO), str(REPO / "platform")]
from annotations import labelmaps  # noqa: E402  (the server's own encoder/decoder)

DATA = REPO.parent / "shared" / "data" / "lidc"
if not DATA.exists():
    DATA = Path("/work/shared/data/lidc")


class Series:
    def __init__(self, case: str) -> None:
        files = sorted(glob.glob(str(DATA / case / "*" / "*" / "*.dcm")))
        self.datasets = [pydicom.dcmread(f) for f in files]
        first = self.datasets[0]
        self.study = str(first.StudyInstanceUID)
        self.series = str(first.SeriesInstanceUID)
        iop = np.array(first.ImageOrientationPatient, dtype=float)
        self.normal = np.cross(iop[:3], iop[3:])
        along = [float(np.dot(np.array(d.ImagePositionPatient, dtype=float), self.normal)) for d in self.datasets]
        self.order = list(np.argsort(along, kind="stable"))
        self.by_sop = {str(d.SOPInstanceUID): d for d in self.datasets}
        self.spacing = float(np.median(np.diff(sorted(along))))
        self.metadata = []
        for d in self.datasets:
            header = pydicom.Dataset()
            for element in d:
                if element.tag != 0x7FE00010:
                    header.add(element)
            item = header.to_json_dict()
            item["00020010"] = {"vr": "UI", "Value": [str(d.file_meta.TransferSyntaxUID)]}
            self.metadata.append(item)

    def geometry(self) -> dict:
        first = self.datasets[0]
        return {
            "slice_count": len(self.datasets), "rows": int(first.Rows), "columns": int(first.Columns),
            "pixel_spacing": [float(v) for v in first.PixelSpacing], "slice_spacing": round(self.spacing, 4),
            "orientation": "axial", "order": [int(i) + 1 for i in self.order], "missing_slices": 0, "problems": [],
        }

    def header(self) -> labelmaps.LabelmapHeader:
        first = self.datasets[self.order[0]]
        iop = [float(v) for v in first.ImageOrientationPatient]
        return labelmaps.LabelmapHeader(
            shape=(len(self.datasets), int(first.Rows), int(first.Columns)),
            spacing=(round(self.spacing, 4), float(first.PixelSpacing[0]), float(first.PixelSpacing[1])),
            origin=tuple(float(v) for v in first.ImagePositionPatient),
            direction=tuple(iop + [float(v) for v in self.normal]),
            series=self.series,
        )

    def model_labelmap(self, centre: tuple[float, float, float], radius: float) -> bytes:
        """A pre-annotation: voxels over -500 HU inside a sphere around a LUNA16 nodule."""
        header = self.header()
        hu = np.stack([self.datasets[i].pixel_array.astype(np.int16) * int(self.datasets[i].RescaleSlope) + int(self.datasets[i].RescaleIntercept) for i in self.order])
        k, i, j = np.indices(header.shape, dtype=np.float32)
        o = np.array(header.origin)
        x = o[0] + j * header.spacing[2]
        y = o[1] + i * header.spacing[1]
        z = o[2] + k * header.spacing[0]
        inside = (x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2 <= radius**2
        voxels = (inside & (hu > -500)).astype(np.uint8)
        return labelmaps.encode(voxels, header)


class State:
    def __init__(self, series: Series, unfit: bool, conflict_next: bool) -> None:
        self.series = series
        self.unfit = unfit
        self.conflict_next = conflict_next
        self.revisions: dict[int, dict] = {}
        self.latest: int | None = None
        self.saves: list[dict] = []

    def add_model_revision(self) -> None:
        payload = self.series.model_labelmap((56.208, 86.343, -115.868), 23.35 / 2 + 1)
        finding = {
            "id": str(uuid.uuid4()), "segment": 1, "voxel_count": 0, "volume_mm3": 0.0, "long_axis_mm": 23.4,
            "centroid_mm": [56.21, 86.34, -115.87], "centroid_voxel": [37, 365, 316], "attributes": {"malignancy": 4},
            "confidence": 0.91, "comments": [{"author": "reviewer1", "text": "Check the inferior margin.", "created_at": "2024-05-01T10:00:00Z"}],
        }
        self.revisions[1] = {"id": 1, "parent_id": None, "author": "candidate-detector v0", "author_kind": "model",
                             "created_at": "2024-05-01T09:00:00Z", "findings": [finding], "payload": payload}
        self.latest = 1

    def task(self) -> dict:
        latest = self.revisions.get(self.latest) if self.latest else None
        return {
            "id": 1, "project_id": 1, "state": "in_progress",
            "series": {"id": 1, "study_instance_uid": self.series.study, "series_instance_uid": self.series.series,
                       "fit_for_3d": not self.unfit, "unfit_reason": "3 slice(s) missing (gaps in slice positions)" if self.unfit else "",
                       "geometry": self.series.geometry()},
            "latest_revision": {k: v for k, v in latest.items() if k != "payload"} if latest else None,
            "schema": {"segments": [{"index": 1, "name": "Nodule", "colour": "#e6553a", "code": {}}],
                       "attributes": json.loads((FRONTEND / "dev" / "lidc_attributes.json").read_text())},
            "permissions": {"can_edit": True, "can_submit": True},
            "next_url": "/tasks/1/",
        }


class Handler(BaseHTTPRequestHandler):
    state: State

    def log_message(self, fmt: str, *args: object) -> None:
        if "/frames/" not in (args[0] if args else ""):
            sys.stderr.write("%s\n" % (fmt % args))

    def send(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def json(self, status: int, data: object) -> None:
        self.send(status, json.dumps(data).encode(), "application/json")

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        s = self.state.series
        if path.startswith("/static/"):
            file = FRONTEND / "dist" / path[len("/static/"):]
            if not file.is_file():
                return self.send(404, b"not found", "text/plain")
            types = {".js": "text/javascript", ".css": "text/css", ".wasm": "application/wasm", ".json": "application/json"}
            return self.send(200, file.read_bytes(), types.get(file.suffix, "application/octet-stream"))
        if path.startswith("/tasks/"):
            manifest = json.loads((FRONTEND / "dist" / "manifest.json").read_text())
            entry = manifest["src/main.ts"]
            css = "".join(f'<link rel="stylesheet" href="/static/{c}">' for c in entry.get("css", []))
            html = (FRONTEND / "dev" / "task.html").read_text().replace("{{ css }}", css).replace("{{ js }}", f"/static/{entry['file']}")
            return self.send(200, html.encode(), "text/html; charset=utf-8")
        if path == "/api/annotations/tasks/1/":
            return self.json(200, self.state.task())
        if path.startswith("/api/annotations/revisions/") and path.endswith("/labelmap"):
            rid = int(path.split("/")[4])
            revision = self.state.revisions.get(rid)
            if not revision:
                return self.json(404, {"code": "not_found", "detail": "no such revision"})
            return self.send(200, revision["payload"], "application/octet-stream")
        base = f"/dicomweb/projects/1/studies/{s.study}/series/{s.series}"
        if path == base + "/metadata":
            return self.send(200, json.dumps(s.metadata).encode(), "application/dicom+json")
        if path.startswith(base + "/instances/") and "/frames/" in path:
            sop = path.split("/instances/")[1].split("/")[0]
            ds = s.by_sop.get(sop)
            if ds is None:
                return self.json(404, {"code": "not_found", "detail": "no such instance"})
            boundary = uuid.uuid4().hex
            ts = str(ds.file_meta.TransferSyntaxUID)
            body = (f"--{boundary}\r\nContent-Type: application/octet-stream; transfer-syntax={ts}\r\n\r\n").encode() + ds.PixelData + f"\r\n--{boundary}--\r\n".encode()
            return self.send(200, body, f'multipart/related; type="application/octet-stream"; boundary={boundary}')
        if path == "/dev/saves":
            return self.json(200, self.state.saves)
        self.json(404, {"code": "not_found", "detail": f"no route {path}"})

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if path == "/api/annotations/tasks/1/submit/":
            return self.json(200, {"state": "submitted"})
        if path == "/dev/conflict-next":
            self.state.conflict_next = True
            return self.json(200, {})
        if path != "/api/annotations/tasks/1/revisions/":
            return self.json(404, {"code": "not_found", "detail": "no route"})
        if not self.headers.get("X-CSRFToken"):
            return self.json(403, {"code": "forbidden", "detail": "CSRF token missing"})
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + body)
        fields = {part.get_param("name", header="content-disposition"): part.get_payload(decode=True) for part in message.iter_parts()}
        parent = fields.get("parent_id", b"").decode()
        parent_id = int(parent) if parent else None
        if self.state.conflict_next:
            self.state.conflict_next = False
            self.state.revisions[99] = dict(self.state.revisions.get(self.state.latest or 0, {}), id=99)
            self.state.latest = 99
        if parent_id != self.state.latest:
            return self.json(409, {"code": "conflict", "detail": f"task changed since you opened it (latest revision {self.state.latest})", "latest_id": self.state.latest})
        try:
            decoded = labelmaps.decode(fields["labelmap"], max_voxels=512 * 512 * 1000)
            if decoded.header.shape != self.state.series.header().shape:
                raise labelmaps.InvalidLabelmap(f"labelmap shape {decoded.header.shape} does not match the series")
        except labelmaps.InvalidLabelmap as error:
            return self.json(400, {"code": error.code, "detail": str(error)})
        findings = json.loads(fields.get("findings", b"[]"))
        rid = max(self.state.revisions, default=0) + 1
        self.state.revisions[rid] = {"id": rid, "parent_id": parent_id, "author": "dev", "author_kind": "user",
                                     "created_at": "2024-05-01T11:00:00Z", "findings": findings, "payload": fields["labelmap"]}
        self.state.latest = rid
        nz = np.argwhere(decoded.voxels > 0)
        self.state.saves.append({"id": rid, "parent_id": parent_id, "bytes": len(fields["labelmap"]),
                                 "voxels": int(len(nz)), "header": {k: v for k, v in decoded.header.__dict__.items()} if hasattr(decoded.header, "__dict__") else str(decoded.header),
                                 "findings": findings})
        self.json(201, {"id": rid, "parent_id": parent_id})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--case", default="LIDC-IDRI-0001")
    parser.add_argument("--unfit", action="store_true")
    parser.add_argument("--no-revision", action="store_true")
    args = parser.parse_args()
    state = State(Series(args.case), args.unfit, False)
    if not args.no_revision:
        state.add_model_revision()
    Handler.state = state
    print(f"http://127.0.0.1:{args.port}/tasks/1/", flush=True)
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
