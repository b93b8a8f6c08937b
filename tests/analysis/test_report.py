"""``espnet-warmup report`` on the real runs, with scores.json written by the real scorer."""

from __future__ import annotations

import shutil

import pytest

from espnet_warmup import cli
from espnet_warmup.recipe.analysis import logs, runs
from espnet_warmup.recipe.scoring.scorer import score_dir

REF = "u1 <en> the cat sat\nu2 <it> il gatto dorme\n"
HYPS = {
    "stable": "u1 <en> the cat sad\nu2 <it> il gatto dorme\n",  # 1 of 6 words wrong
    "unstable": "u1 <en> a\nu2 <it> b\n",
}


@pytest.fixture(scope="module")
def exp_with_scores(espnet_runs, tmp_path_factory):
    root = tmp_path_factory.mktemp("analysis_report")
    exp = root / "exp"
    for name in ("stable", "unstable"):
        shutil.copytree(getattr(espnet_runs, name).expdir, exp / name)
    data = root / "data"
    data.mkdir()
    (data / "text").write_text(REF)
    (data / "utt2spk").write_text("u1 s1\nu2 s2\n")
    for name, hyp in HYPS.items():
        for test in ("test", "test_clean"):
            out = exp / name / "decode_asr_model_valid.acc.ave" / test
            out.mkdir(parents=True)
            (out / "text").write_text(hyp)
            score_dir(data / "text", out / "text", data / "utt2spk", out, remove_tokens=["<en>", "<it>"])
    (exp / "asr_stats_raw_char").mkdir()  # not a training dir: ignored
    return root


def _table(md: str, first_col: str) -> list[dict[str, str]]:
    lines = md.splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith(f"|{first_col}|"))
    head = lines[i].split("|")[1:-1]
    rows = []
    for line in lines[i + 2:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(head, line.split("|")[1:-1])))
    return rows


@pytest.mark.slow
def test_report_table_has_wer_cer_per_test_set_and_training_stats_per_policy(exp_with_scores):
    out = exp_with_scores / "RESULTS.md"
    rc = cli.main(["report", "--expdir", str(exp_with_scores / "exp"), "--out", str(out),
                   "--target_acc", "0.2"])
    assert rc == 0
    md = out.read_text()
    rows = _table(md, "policy (exp dir)")
    assert [r["policy (exp dir)"] for r in rows] == ["stable", "unstable"]
    stable, unstable = rows
    # ESPnet-style environment block, and a link to each run's own RESULTS.md where there is one
    assert "## Environments" in md and "- espnet version: `espnet 202511`" in md
    assert "## Per-experiment details" not in md  # no per-experiment RESULTS.md in this fixture
    assert stable["test WER"] == "16.67" and stable["test_clean WER"] == "16.67"
    assert unstable["test WER"] == "100.00"
    assert stable["scheduler"] == "warmuplr" and unstable["scheduler"] == "polynomialwarmuplr"
    assert stable["warmup updates"] == "10" and unstable["warmup updates"] == "40"
    # updates to reach valid acc >= 0.2: interpolated between the epoch-end validations
    # around the first crossing in the log (or "<= N" when epoch 1 already reached it)
    log = logs.parse_train_log(exp_with_scores / "exp" / "stable" / "train.log")
    points = [(e.step, e.get("valid", "acc")) for e in log.epochs]
    k = next(i for i, (_, a) in enumerate(points) if a >= 0.2)
    if k == 0:
        expected = f"\u2264 {points[0][0]}"
    else:
        (s0, a0), (s1, a1) = points[k - 1], points[k]
        expected = str(round(s0 + (0.2 - a0) / (a1 - a0) * (s1 - s0)))
    assert stable["updates to valid acc >= 0.200"] == expected
    # grad-norm statistics during warmup (first 10 updates of the stable run)
    warm = [it.stats["grad_norm"] for it in log.intervals if it.step <= 10]
    assert float(stable["warmup grad norm peak"]) == pytest.approx(max(warm), rel=1e-2)
    assert int(unstable["spikes"]) >= 3 and int(unstable["skipped updates"]) >= 1
    assert stable["skipped updates"] == "0"
    # per-language table, pictures, OWSM comparison with a dash for our own test set
    lang = _table(md, "policy")
    assert {"WER en", "WER it"} <= set(lang[0])
    assert "![LR schedules](images/lr.png)" in md and "![training curves](images/curves.png)" in md
    assert (exp_with_scores / "images" / "lr.png").stat().st_size > 10_000
    assert (exp_with_scores / "images" / "curves.png").stat().st_size > 20_000
    owsm = {r["test set"]: r for r in _table(md, "test set")}
    assert owsm["test"]["OWSM v3 (889M)"] == "-" and owsm["test"]["OWSM v3.1 (1.02B)"] == "-"
    assert owsm["test_clean"]["OWSM v3.1 (1.02B)"] == "2.4"  # LibriSpeech test-clean, v3.1 paper Table 2
    assert "No upstream OWSM test set matches `test`" in md


@pytest.mark.slow
def test_report_default_target_is_90_percent_of_best_valid_acc(exp_with_scores, tmp_path):
    from espnet_warmup.recipe.report import build_report, find_experiments

    exps = find_experiments(exp_with_scores / "exp", [])
    assert [e.name for e in exps] == ["stable", "unstable"]
    res = build_report(exps, tmp_path / "R.md", tmp_path / "img")
    best = max(a for e in exps for a in runs.load_run(e).series["valid_acc"][1])
    assert res["target_acc"] == pytest.approx(0.9 * best, abs=1e-4)


def test_report_without_experiments_fails_naming_the_dir(tmp_path, capsys):
    (tmp_path / "exp").mkdir()
    rc = cli.main(["report", "--expdir", str(tmp_path / "exp"), "--out", str(tmp_path / "R.md")])
    assert rc == 1
    err = capsys.readouterr().err
    assert f"report: {tmp_path / 'exp'}: no experiment dirs with a train.log or tensorboard/train/ found" in err
    assert not (tmp_path / "R.md").exists()


def test_report_rejects_explicit_non_experiment_dir(tmp_path, capsys):
    rc = cli.main(["report", "--out", str(tmp_path / "R.md"), str(tmp_path)])
    assert rc == 1
    assert "not an ESPnet experiment dir (no train.log or tensorboard/train/)" in capsys.readouterr().err


def test_report_rejects_target_acc_outside_0_1(tmp_path, capsys):
    rc = cli.main(["report", "--target_acc", "90", "--out", str(tmp_path / "R.md")])
    assert rc == 2
    assert "--target_acc must be in (0, 1]" in capsys.readouterr().err


@pytest.mark.slow
def test_report_links_each_experiments_own_results(exp_with_scores, tmp_path):
    import shutil

    exp = tmp_path / "exp"
    shutil.copytree(exp_with_scores / "exp" / "stable", exp / "stable")
    (exp / "stable" / "RESULTS.md").write_text("# RESULTS\n")
    out = tmp_path / "doc" / "RESULTS.md"
    assert cli.main(["report", "--expdir", str(exp), "--out", str(out)]) == 0
    md = out.read_text()
    assert "## Per-experiment details" in md
    assert "- `stable`: [../exp/stable/RESULTS.md](../exp/stable/RESULTS.md)" in md


def test_model_label_tells_attention_ctc_and_transducer_runs_apart():
    from espnet_warmup.recipe.report import model_label

    assert model_label({"encoder": "conformer", "decoder": "transducer", "model_conf": {"ctc_weight": 0.3}}) == (
        "conformer + transducer (CTC 0.3)")
    assert model_label({"encoder": "conformer", "decoder": "transformer"}) == "conformer + transformer (CTC 0.5)"
    assert model_label({"encoder": "conformer", "decoder": "transformer", "model_conf": {"ctc_weight": 1.0}}) == (
        "conformer + CTC")
    assert model_label({"encoder": "conformer", "decoder": None}) == "conformer + CTC"


def test_decode_dirs_given_in_order_of_preference_each_exp_takes_the_first_it_has(tmp_path):
    from espnet_warmup.recipe.report import read_scores

    scores = '{"wer": {"all": {"err": 1.0}}, "cer": {"all": {"err": 2.0}}}'
    for exp, dirs in (("att", ("decode_asr_model_valid.acc.ave", "decode_other")),
                      ("trans", ("decode_transducer_asr_model_valid.loss.ave",))):
        for d in dirs:
            (tmp_path / exp / d / "test").mkdir(parents=True)
            (tmp_path / exp / d / "test" / "scores.json").write_text(scores)
    order = ["decode_asr_model_valid.acc.ave", "decode_transducer_asr_model_valid.loss.ave"]
    assert read_scores(tmp_path / "att", order)[0] == "decode_asr_model_valid.acc.ave"
    assert read_scores(tmp_path / "trans", order)[0] == "decode_transducer_asr_model_valid.loss.ave"
    assert read_scores(tmp_path / "att", "decode_other")[0] == "decode_other"  # one name, as before
    assert read_scores(tmp_path / "trans", ["decode_none"]) == (None, {})
