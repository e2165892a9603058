"""Compare the syrupy snapshots a version lane wrote with the committed ones.

scripts/compat runs the unit suite of the minimum lane on a scratch copy with
`--snapshot-update`, then calls this with the committed and the scratch snapshot
folders. Two differences come from Home Assistant's serialization, not from what the
integration writes, and are normalized away on both sides:

- state attribute keys: newer releases key attributes with enum members
  (`<EntityStateAttribute.DEVICE_CLASS: 'device_class'>`), 2026.3 with plain strings;
  both are the same string at run time;
- entity registry aliases: newer releases store the entity's own name as a `None`
  alias in a list, 2026.3 an empty set; the integration sets no alias.

Anything else that differs, a snapshot missing or an extra one, is printed and makes the
exit status 1.
"""

from __future__ import annotations

import difflib
from pathlib import Path
import re
import sys

ENUM_ATTRIBUTE_KEY = re.compile(r"^(\s*)<\w+Attribute\.\w+: ('[^']*')>: ", re.MULTILINE)
ALIASES = re.compile(
    r"^(?P<indent>\s*)'aliases': (?:list\(\[|set\(\{)\n(?P<items>.*?)^(?P=indent)(?:\]\)|\}\)),$",
    re.MULTILINE | re.DOTALL,
)


def _aliases_as_set(match: re.Match[str]) -> str:
    indent = match["indent"]
    items = sorted(line for line in match["items"].splitlines() if line.strip() != "None,")
    return "\n".join([f"{indent}'aliases': set({{", *items, f"{indent}}}),"])


def normalize(text: str) -> str:
    """A snapshot file's text with the two serialization differences removed."""
    return ALIASES.sub(_aliases_as_set, ENUM_ATTRIBUTE_KEY.sub(r"\1\2: ", text))


def differences(committed: Path, regenerated: Path) -> list[str]:
    """Unified diffs (normalized) of the .ambr files of two snapshot folders."""
    problems = []
    names = sorted({path.name for path in [*committed.glob("*.ambr"), *regenerated.glob("*.ambr")]})
    for name in names:
        ours, theirs = committed / name, regenerated / name
        if not theirs.exists():
            problems.append(f"{name}: not written by this Home Assistant (every snapshot unused)")
            continue
        if not ours.exists():
            problems.append(f"{name}: written by this Home Assistant but not committed")
            continue
        diff = list(
            difflib.unified_diff(
                normalize(ours.read_text()).splitlines(),
                normalize(theirs.read_text()).splitlines(),
                f"committed/{name}",
                f"this lane/{name}",
                lineterm="",
            )
        )
        if diff:
            problems.append("\n".join(diff))
    return problems


def main(argv: list[str]) -> int:
    """Compare COMMITTED_DIR with REGENERATED_DIR; print the differences."""
    if len(argv) != 2:
        print("usage: compat_snapshots.py COMMITTED_DIR REGENERATED_DIR", file=sys.stderr)
        return 2
    committed, regenerated = Path(argv[0]), Path(argv[1])
    problems = differences(committed, regenerated)
    for problem in problems:
        print(problem)
    count = len(list(committed.glob("*.ambr")))
    if problems:
        print(f"snapshots: {len(problems)} of {count} files differ beyond serialization")
        return 1
    print(f"snapshots: {count} files equal to the committed ones up to serialization")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
