"""bench/stability_study.py: the settings' configs and the summary of their probes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from bench_module import load_bench

ROOT = Path(__file__).resolve().parents[2]


def _module():
    return load_bench("stability_study")


def test_a_setting_replaces_the_encoder_only_and_is_written_once(tmp_path):
    mod = _module()
    base = yaml.safe_load((ROOT / mod.BASE).read_text())
    rel = mod.setting_config(tmp_path, "deep12_postln")
    assert rel == "stab_conf/train_deep12_postln.yaml"
    conf = yaml.safe_load((tmp_path / rel).read_text())
    enc = conf["encoder_conf"]
    assert (enc["num_blocks"], enc["output_size"], enc["normalize_before"]) == (12, 64, False)
    assert enc["cnn_module_kernel"] == base["encoder_conf"]["cnn_module_kernel"]  # the rest is the base's
    for key in ("optim", "optim_conf", "scheduler", "scheduler_conf", "batch_size", "grad_clip", "frontend_conf"):
        assert conf[key] == base[key], key
    mtime = (tmp_path / rel).stat().st_mtime_ns
    mod.setting_config(tmp_path, "deep12_postln")
    assert (tmp_path / rel).stat().st_mtime_ns == mtime  # unchanged: a finished probe's config is not touched
    assert mod.setting_config(tmp_path, "deep12_postln", "newseeds") == "stab_conf/train_deep12_postln_newseeds.yaml"
    assert yaml.safe_load((tmp_path / mod.setting_config(tmp_path, "default")).read_text()) == base


def test_the_summary_lists_every_policy_of_a_probed_setting_and_names_a_missing_one(tmp_path):
    mod = _module()
    probe = tmp_path / "exp" / "probe_train_deep12_postln"
    probe.mkdir(parents=True)
    rows = [{"policy": "train_linear_warmup", "highest_stable_peak": 0.1, "lowest_diverged_peak": 0.3162,
             "updates_to_divergence": 41, "runs": 9, "diverged_runs": 3},
            {"policy": "train_exp_warmup", "highest_stable_peak": 0.3162, "lowest_diverged_peak": None,
             "updates_to_divergence": None, "runs": 9, "diverged_runs": 0}]
    (probe / "probe.json").write_text(json.dumps({"rows": rows, "seeds": [1, 2, 3], "updates": 100, "runs": {}}))
    out = mod.summarize(tmp_path, ["deep12_postln", "deep12_preln"], "", tmp_path / "s")
    md = (tmp_path / "s.md").read_text()
    assert "|train_linear_warmup|0.1|0.3162|41|9 (3)|" in md
    assert "|train_exp_warmup|0.3162|-|-|9 (0)|" in md
    assert "## deep12_preln: not probed yet" in md
    assert [s["setting"] for s in out["settings"]] == ["deep12_postln"]
    assert json.loads((tmp_path / "s.json").read_text())["settings"][0]["seeds"] == [1, 2, 3]


@pytest.mark.parametrize("argv, message", [
    (["--settings", "shallow"], "--settings: unknown shallow; allowed: deep12_postln"),
    (["--policies", "cosine"], "--policies: unknown cosine; allowed: linear, owsm, poly, exp"),
    (["--tag", "a/b"], "--tag: letters, digits and _ only"),
])
def test_bad_options_are_refused_naming_the_option(argv, message, capsys):
    mod = _module()
    with pytest.raises(SystemExit) as e:
        mod.main(argv + ["--report_only"])
    assert e.value.code == 2
    assert message in capsys.readouterr().err
