"""recipes/cmkt_base: the default model's training data and runs (shared data; skipped where absent)."""

import csv

import pytest

from recipes.cmkt_base.run import (
    Compute,
    StoiStage,
    build_inputs,
    finetune_commands,
    per_stage,
    stoi_commands,
    train_commands,
    tts_voices,
)


def cmkt_stage_command(tmp_path, stage: StoiStage, name: str, steps: int = 1500) -> list[str]:
    """The one CMKT run's command of a STOI stage (seed 0, one thread): what these tests compare."""
    commands = stoi_commands(
        tmp_path / "data", tmp_path, steps, [0], compute=Compute(threads=1), systems=("cmkt",), stage=stage
    )
    return commands[name]


def test_inputs_join_real_and_tts_speech_and_recorded_and_generated_noise(shared_data, tmp_path):
    table, noise = build_inputs(shared_data, tmp_path)
    rows = list(csv.DictReader(table.open(encoding="utf-8"), delimiter="\t", quoting=csv.QUOTE_NONE))
    tts = [r for r in rows if r["id"].startswith("tts_")]
    assert len(rows) - len(tts) == 2550 and len(tts) == 100 * len(tts_voices()) == 800
    assert {r["speaker"] for r in tts} == {v.name for v in tts_voices()}
    assert all((tmp_path / r["path"]).is_file() for r in rows[::97])
    for split in ("train", "valid", "test"):
        names = {p.name for p in (noise / split).iterdir()}
        assert any(n.startswith("generated_") for n in names) and any(n.endswith(".flac") for n in names)
    assert build_inputs(shared_data, tmp_path) == (table, noise)  # a rerun reuses what is there


def test_runs_differ_only_in_teacher_and_seed(tmp_path):
    commands = train_commands(tmp_path / "data", tmp_path, 100, [0, 1], compute=Compute(threads=1))
    assert sorted(commands) == ["baseline_s0", "baseline_s1", "cmkt_s0", "cmkt_s1"]
    cmkt, base = commands["cmkt_s0"], commands["baseline_s0"]
    differing = {a for a, b in zip(cmkt, base) if a != b}
    assert differing == {"auto", str(tmp_path / "runs" / "cmkt_s0")}
    assert "--dynamic-mixing" in cmkt and cmkt[cmkt.index("--steps") + 1] == "100"


def test_systems_choose_the_runs(tmp_path):
    commands = train_commands(tmp_path / "data", tmp_path, 100, [0], compute=Compute(threads=1), systems=("cmkt",))
    assert list(commands) == ["cmkt_s0"]


def test_noise_augmentation_reaches_every_run(tmp_path):
    commands = train_commands(tmp_path / "data", tmp_path, 100, [0], compute=Compute(threads=1), noise_augment=True)
    assert all("--noise-augment" in command for command in commands.values())
    assert not any(
        "--noise-augment" in c
        for c in train_commands(tmp_path / "data", tmp_path, 100, [0], compute=Compute(threads=1)).values()
    )


def test_finetune_stage_starts_each_run_from_its_stage_one_model_with_augmented_noise(tmp_path):
    commands = finetune_commands(tmp_path / "data", tmp_path, 4000, [0], compute=Compute(threads=1), lr=3e-4)
    assert sorted(commands) == ["baseline_s0_ft", "cmkt_s0_ft"]
    for name, command in commands.items():
        start = tmp_path / "runs" / name.removesuffix("_ft") / "model.pt"
        assert command[command.index("--init") + 1] == str(start) and "--noise-augment" in command
        assert command[command.index("--lr") + 1] == "0.0003" and command[command.index("--valid-every") + 1] == "500"
    teachers = {name: c[c.index("--teacher") + 1] for name, c in commands.items()}
    assert teachers == {"cmkt_s0_ft": "auto", "baseline_s0_ft": "none"}


def test_stoi_stage_starts_from_stage_two_with_the_stoi_term_and_its_own_batches(tmp_path):
    command = cmkt_stage_command(tmp_path, StoiStage(lr=1e-4, weight=0.5), "cmkt_s0_stoi", steps=2400)
    assert command[command.index("--init") + 1] == str(tmp_path / "runs" / "cmkt_s0_ft" / "model.pt")
    assert command[command.index("--loss") + 1] == "spectral_mae=1,wave_mae=1,stoi=0.5"
    assert command[command.index("--select") + 1] == "pesq_wb=1,stoi=4" and command[command.index("--seed") + 1] == "2"
    assert command[command.index("--lr") + 1] == "0.0001" and command[command.index("--valid-every") + 1] == "300"
    assert "--noise-augment" in command


def test_a_second_stoi_stage_starts_from_the_first_with_its_own_weight_and_batches(tmp_path):
    command = cmkt_stage_command(tmp_path, StoiStage(lr=1e-4, weight=1, index=1), "cmkt_s0_stoi2")
    assert command[command.index("--init") + 1] == str(tmp_path / "runs" / "cmkt_s0_stoi" / "model.pt")
    assert command[command.index("--loss") + 1] == "spectral_mae=1,wave_mae=1,stoi=1"
    assert command[command.index("--seed") + 1] == "3" and command[command.index("--valid-every") + 1] == "300"


def test_a_stoi_stage_drifts_the_noise_levels_only_when_asked(tmp_path):
    plain = cmkt_stage_command(tmp_path, StoiStage(weight=1, index=2), "cmkt_s0_stoi3")
    drifting = cmkt_stage_command(tmp_path, StoiStage(weight=1, index=2, envelope=True), "cmkt_s0_stoi3")
    assert "--noise-envelope" not in plain and "--noise-envelope" in drifting
    assert [a for a in drifting if a != "--noise-envelope"] == plain  # the flag is the only difference
    assert drifting[drifting.index("--seed") + 1] == "4"


def test_a_stoi_stage_grows_a_deep_filter_only_when_asked(tmp_path):
    import json

    plain = cmkt_stage_command(tmp_path, StoiStage(weight=1, index=4, envelope=True), "cmkt_s0_stoi5")
    grown = cmkt_stage_command(
        tmp_path, StoiStage(weight=1, index=4, envelope=True, deep_filter=3), "cmkt_s0_stoi5", steps=1500
    )
    at = grown.index("--model-config")
    assert "--model-config" not in plain and json.loads(grown[at + 1]) == {"deep_filter_order": 3}
    assert grown[:at] + grown[at + 2 :] == plain and grown[grown.index("--seed") + 1] == "6"


def test_a_stoi_stage_recolours_the_speech_only_when_asked(tmp_path):
    plain = cmkt_stage_command(tmp_path, StoiStage(weight=1, index=5, envelope=True), "cmkt_s0_stoi6")
    recoloured = cmkt_stage_command(
        tmp_path, StoiStage(weight=1, index=5, envelope=True, speech_eq=True), "cmkt_s0_stoi6", steps=1500
    )
    assert "--speech-eq" not in plain and [a for a in recoloured if a != "--speech-eq"] == plain
    assert recoloured[recoloured.index("--seed") + 1] == "7"
    assert recoloured[recoloured.index("--init") + 1] == str(tmp_path / "runs" / "cmkt_s0_stoi5" / "model.pt")


def test_per_stage_values_repeat_one_value_or_take_one_per_stage():
    assert per_stage([0.5], 3, "--stoi-weight") == [0.5, 0.5, 0.5]
    assert per_stage([0, 0, 1], 3, "--stoi-envelope") == [0, 0, 1]
    with pytest.raises(SystemExit, match="--stoi-envelope: give one value or one per STOI stage"):
        per_stage([0, 1], 3, "--stoi-envelope")
