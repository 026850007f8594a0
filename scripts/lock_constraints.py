"""Write constraints.txt: the installed version of every package in mlspec's dependency closure
(all extras), so CI and developers install exactly what was tested.

    pip install -e ".[test,azure-checks,local,state-azure,azure]" && python3 scripts/lock_constraints.py
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

EXTRAS = ("test", "azure-checks", "local", "state-azure", "azure")
TARGET = Path(__file__).resolve().parent.parent / "constraints.txt"


def _applies(requirement: Requirement, extras: tuple[str, ...]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in (extras or ("",)))


def closure() -> dict[str, str]:
    pins: dict[str, str] = {}
    seen: set[tuple[str, tuple[str, ...]]] = set()
    stack = [(r, EXTRAS) for r in metadata.distribution("mlspec-azure").requires or []]
    while stack:
        text, active = stack.pop()
        requirement = Requirement(text)
        if not _applies(requirement, active):
            continue
        key = (canonicalize_name(requirement.name), tuple(sorted(requirement.extras)))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            continue
        pins[key[0]] = dist.version
        stack.extend((r, tuple(sorted(requirement.extras))) for r in dist.requires or [])
    return pins


def main() -> None:
    lines = [
        "# Locked versions of mlspec's dependency closure (all extras), as tested.",
        "# Used by `make install` / `make test`; regenerate: python3 scripts/lock_constraints.py",
        *(f"{name}=={version}" for name, version in sorted(closure().items())),
    ]
    TARGET.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {TARGET} ({len(lines) - 2} packages)")


if __name__ == "__main__":
    main()
