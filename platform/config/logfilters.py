"""Logging filters that keep DICOM identifiers out of logs (paths carry UIDs)."""

import logging
import re

# A DICOM UID: four or more dot-separated numbers (PS3.5 9.1). Dates and versions have fewer.
UID = re.compile(r"\b\d+(?:\.\d+){3,}\b")


class RedactUids(logging.Filter):
    """Replace UIDs in a record's message and arguments by <uid>: a UID names a patient's study
    in a project without de-identification, and request logs print URL paths."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = UID.sub("<uid>", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                UID.sub("<uid>", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True
