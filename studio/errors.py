"""The studio's error type: its message is one sentence the user can act on (no traceback)."""


class StudioError(Exception):
    """Raised for problems the user can fix; the CLI and UI show ``str(error)`` as is."""


class ConfigError(StudioError, ValueError):
    """A configuration problem, phrased as one sentence the user can act on."""
