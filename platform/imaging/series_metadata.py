"""The WADO-RS series metadata document, built once per series from the instances' JSON."""

import gzip
import hashlib

from django.db.models import F

from imaging.models import Instance, Series


def build_series_metadata(series: Series) -> tuple[bytes, str]:
    """Gzip the series' metadata array and cache it on the row; returns (gzip bytes, etag).

    String concatenation of the JSON stored at ingest: no DICOM parsing, no re-encoding.
    """
    texts = list(
        Instance.objects.filter(series=series)
        .order_by(F("instance_number").asc(nulls_last=True), "pk")
        .values_list("metadata_json", flat=True)
    )
    document = ("[" + ",".join(texts) + "]").encode()
    compressed = gzip.compress(document, compresslevel=6, mtime=0)
    etag = hashlib.sha256(document).hexdigest()[:32]
    # Cache only if no instance arrived meanwhile (ingest bumps instance_count and clears the
    # cache): a stale document must never be saved as current.
    Series.objects.filter(pk=series.pk, instance_count=len(texts)).update(
        metadata_gz=compressed, metadata_etag=etag
    )
    series.metadata_gz, series.metadata_etag = compressed, etag
    return compressed, etag
