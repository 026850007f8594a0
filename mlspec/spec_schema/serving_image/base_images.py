"""The scoring image's base: Microsoft's curated Azure ML inference images, pinned by digest.

One entry per Python version the serving image supports; a spec asking for another version is refused
at its ``python`` line (MLS638), since no pinned base exists for it. The image runs the packages of its
own virtualenv (``VENV``, made with the base image's Python), never the base's conda environment: the
inference server bundled there pins another pydantic than ours.

The digest below comes from a public design note and could not be checked on the machine mlspec is
developed on (mcr.microsoft.com is not reachable from it). Before relying on it, check it where MCR is
reachable: ``docker buildx imagetools inspect <reference>`` (it must name linux/amd64, Ubuntu 22.04).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BaseImage:
    python: str
    """``major.minor`` of the image's Python."""
    reference: str
    """``<registry>/<repository>:<tag>@sha256:<digest>``: the tag for the reader, the digest is what is pulled."""
    glibc: tuple[int, int]
    """The C library of the image's OS (Ubuntu 22.04: 2.35): the newest manylinux wheels it installs."""
    machine: str = "x86_64"

    @property
    def platform_tag(self) -> str:
        """The newest wheel platform tag the image installs, e.g. ``manylinux_2_35_x86_64``."""
        major, minor = self.glibc
        return f"manylinux_{major}_{minor}_{self.machine}"

    @property
    def interpreter_tag(self) -> str:
        """``cp311`` for CPython 3.11."""
        return "cp" + self.python.replace(".", "")


BASE_IMAGES: dict[str, BaseImage] = {
    "3.11": BaseImage(
        python="3.11",
        reference=(
            "mcr.microsoft.com/azureml/curated/minimal-py311-inference:59"
            "@sha256:89a46a46b71b4692731654d0523f53c8d14929e41ea8129293dc4e39fcabb14c"
        ),
        glibc=(2, 35),
    ),
}
"""Python version → base image (Ubuntu 22.04, linux/amd64, a Python conda env, default user ``dockeruser``)."""

VENV = "/opt/mlspec-venv"
"""The scoring packages' own virtualenv inside the image."""


def base_image(python: str) -> BaseImage | None:
    """The pinned base for the spec's ``python`` (``"3.11"``), ``None`` when there is none."""
    return BASE_IMAGES.get(python)


def supported_pythons() -> str:
    return ", ".join(f'"{version}"' for version in sorted(BASE_IMAGES))
