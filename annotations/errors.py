from config.errors import Conflict, PlatformError


class RevisionConflict(Conflict):
    def __init__(self, latest_id: int | None) -> None:
        super().__init__(f"the task changed since you opened it (latest revision {latest_id})")
        self.latest_id = latest_id


class TransitionRefused(Conflict):
    code = "transition_refused"


class GridMismatch(PlatformError):
    code = "grid_mismatch"
