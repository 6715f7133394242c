import json

import pytest
import soundfile as sf

from cmkt.errors import CmktError
from cmkt.data.manifest import Utterance, read_manifest, write_manifest
from tests.conftest import tone


def test_round_trip_resolves_relative_paths(tmp_path):
    sf.write(tmp_path / "a.wav", tone(), 16000)
    write_manifest(tmp_path / "m.jsonl", [Utterance(id="a", clean="a.wav", text="hello")])
    [utt] = read_manifest(tmp_path / "m.jsonl")
    assert utt.clean == str((tmp_path / "a.wav").resolve()) and utt.text == "hello"


@pytest.mark.parametrize(
    "lines, message",
    [
        (
            [
                '{"id": "a", "clean": "a.wav"',
            ],
            "bad JSON",
        ),
        (['{"id": "a"}'], "missing key"),
        (['{"id": "a", "clean": "nowhere.wav"}'], "not found"),
        (['{"id": "a", "clean": "a.wav"}', '{"id": "a", "clean": "a.wav"}'], "duplicate id"),
        (['{"id": "a", "clean": 5}'], "clean must be a string, not 5"),
        (['{"id": "a", "clean": "a.wav", "snr_db": "loud"}'], "snr_db must be a number or null"),
    ],
)
def test_bad_lines_name_the_line(tmp_path, lines, message):
    sf.write(tmp_path / "a.wav", tone(), 16000)
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CmktError) as info:
        read_manifest(path)
    assert message in str(info.value) and f"{path}:" in str(info.value)


def test_unknown_keys_are_kept(tmp_path):
    sf.write(tmp_path / "a.wav", tone(), 16000)
    (tmp_path / "m.jsonl").write_text(json.dumps({"id": "a", "clean": "a.wav", "room": "kitchen"}) + "\n")
    assert read_manifest(tmp_path / "m.jsonl")[0].extra == {"room": "kitchen"}
