"""Stand-in for pyspeex-noise (no Python 3.14 wheel here); see dev_shims/README.md."""


class AudioProcessor:
    """Noise suppression is not available in this development environment."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        """Refuse to be used."""
        raise RuntimeError("pyspeex-noise is not installed: voice processing is unavailable")
