import logging

from config.logfilters import RedactUids


def test_uids_in_log_messages_are_redacted():
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1,
        "Not Found: %s", ("/dicomweb/projects/1/studies/1.2.840.113619.2.55/series",), None,
    )  # fmt: skip
    RedactUids().filter(record)
    assert record.getMessage() == "Not Found: /dicomweb/projects/1/studies/<uid>/series"


def test_ordinary_numbers_are_kept():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "run 12 took 1.5 s", None, None)
    RedactUids().filter(record)
    assert record.getMessage() == "run 12 took 1.5 s"
