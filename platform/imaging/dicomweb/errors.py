"""The HTTP errors DICOMweb needs beyond config.errors; all are PlatformErrors, so every
DICOMweb failure is a plain status with a {"code", "detail"} body."""

from config.errors import PlatformError


class NotAuthenticated(PlatformError):
    status = 401
    code = "not_authenticated"


class NotAcceptable(PlatformError):
    status = 406
    code = "not_acceptable"


class PayloadTooLarge(PlatformError):
    status = 413
    code = "too_large"


class UnsupportedMediaType(PlatformError):
    status = 415
    code = "unsupported_media_type"


class MethodNotAllowed(PlatformError):
    status = 405
    code = "method_not_allowed"
