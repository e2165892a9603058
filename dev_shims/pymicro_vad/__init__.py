"""Stand-in for pymicro-vad (no Python 3.14 wheel here); see dev_shims/README.md."""


class MicroVad:
    """Voice activity detection is not available in this development environment."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        """Refuse to be used."""
        raise RuntimeError("pymicro-vad is not installed: voice processing is unavailable")
