# Home Assistant 2026 aliases `voluptuous` to probatio when it is imported
# (homeassistant/__init__.py calls probatio.compat.install_as_voluptuous), so an
# integration's `import voluptuous as vol` is probatio at run time: type it so.
from probatio import *  # noqa: F403
