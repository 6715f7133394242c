from cmkt.registry import model_dirs
from cmkt.teachers.packaged import teachers_home
from cmkt.util.cache_dirs import cmkt_cache


def test_models_and_teachers_share_one_cache_root_that_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv("CMKT_MODELS", raising=False)
    monkeypatch.delenv("CMKT_TEACHERS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cmkt_cache("teachers") == tmp_path / "cmkt" / "teachers" == teachers_home()
    assert model_dirs()[0] == tmp_path / "cmkt" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert teachers_home().parts[-3:] == (".cache", "cmkt", "teachers")
