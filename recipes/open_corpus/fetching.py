"""Bringing each source's files onto the disk: Debian packages and GitHub repositories.

Each step leaves a `.complete` marker only once it has finished, so an interrupted build
redoes just the step that was cut, and a rerun downloads and extracts nothing twice.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from cmkt.errors import CmktError

from recipes.open_corpus.sources import read_lines

MARKER = ".complete"


def _run(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, cwd=cwd, check=True, capture_output=True)
    except FileNotFoundError as exc:
        raise CmktError(f"{args[0]}: not found; install it (apt-get install {args[0]})") from exc
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or b"").decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise CmktError(f"`{' '.join(args)}` failed: {tail[0]}") from exc


def download_deb(package: str, downloads: Path) -> Path:
    """The package's .deb in `downloads` (fetched with `apt-get download` unless already whole)."""
    downloads.mkdir(parents=True, exist_ok=True)
    for existing in sorted(downloads.glob(f"{package}_*.deb")):
        if _deb_is_whole(existing):
            return existing
        existing.unlink()  # a download that was cut short: fetch it again
    with tempfile.TemporaryDirectory(dir=downloads, prefix=".download-") as tmp:
        _run(["apt-get", "download", package], cwd=Path(tmp))
        fetched = sorted(Path(tmp).glob(f"{package}_*.deb"))
        if not fetched:
            raise CmktError(f"apt-get download {package}: no .deb arrived; run `apt-get update` and retry")
        final = downloads / fetched[0].name
        fetched[0].replace(final)
    return final


def _deb_is_whole(deb: Path) -> bool:
    try:
        subprocess.run(
            ["dpkg-deb", "--fsys-tarfile", str(deb)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    except (subprocess.CalledProcessError, FileNotFoundError):
        return False
    return True


def extract_deb(deb: Path, target: Path) -> Path:
    """The package's files under `target` (dpkg-deb -x), extracted once."""
    if (target / MARKER).is_file():
        return target
    if target.exists():
        shutil.rmtree(target)
    partial = target.with_name(f".{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    _run(["dpkg-deb", "-x", str(deb), str(partial)])
    (partial / MARKER).touch()
    partial.rename(target)
    return target


def find_git_dir(root: Path, repo: str) -> Path:
    """The git directory of OWNER/NAME under `root`: bare or cloned, named NAME, NAME.git,
    OWNER+NAME (with an inner `repo/`), or OWNER/NAME."""
    owner, name = repo.split("/")
    candidates = [
        root / f"{owner}+{name}" / "repo",
        root / f"{owner}+{name}",
        root / owner / name,
        root / name,
        root / f"{name}.git",
        root / f"{owner}+{name}.git",
    ]
    for candidate in candidates:
        for git_dir in (candidate / ".git", candidate):
            if git_dir.is_dir() and (git_dir / "HEAD").is_file() and (git_dir / "objects").is_dir():
                return git_dir
    raise CmktError(
        f"{root}: no git directory of {repo} found (looked for {name}, {name}.git, {owner}+{name}); "
        f"clone it there (git clone --bare https://github.com/{repo} {root / (name + '.git')})"
    )


def export_git(git_dir: Path, target: Path) -> tuple[Path, list[str]]:
    """The files of the repository's HEAD under `target`, exported once, and the paths whose
    content the git directory lacks (snapshots may leave out large files): reported, skipped."""
    missing_file = target / ".missing"
    if (target / MARKER).is_file():
        return target, read_lines(missing_file)
    partial = target.with_name(f".{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    listing = _run(["git", f"--git-dir={git_dir}", "ls-tree", "-r", "-z", "HEAD"]).stdout.decode().split("\0")
    blobs = [
        (meta.split()[2], path)
        for meta, _, path in (entry.partition("\t") for entry in listing if entry)
        if meta.split()[1] == "blob"
    ]
    missing = []
    with subprocess.Popen(
        ["git", f"--git-dir={git_dir}", "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    ) as proc:
        for oid, path in blobs:
            proc.stdin.write(f"{oid}\n".encode())
            proc.stdin.flush()
            header = proc.stdout.readline().split()
            if len(header) < 3 or header[1] != b"blob":
                missing.append(path)
                continue
            data = proc.stdout.read(int(header[2]))
            proc.stdout.read(1)  # the newline after each object
            out = partial / path
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
        proc.stdin.close()
    partial.mkdir(parents=True, exist_ok=True)
    (partial / ".missing").write_text("".join(f"{p}\n" for p in missing), encoding="utf-8")
    (partial / MARKER).touch()
    partial.rename(target)
    return target, missing
