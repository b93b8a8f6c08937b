"""bench/finetune_study.py: language subsets, time to the target dev WER, the aggregate table, the commands
(no training: synthetic data dirs and exp dirs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from bench_module import load_bench

ROOT = Path(__file__).resolve().parents[2]


def _module():
    return load_bench("finetune_study")


def _data_dir(path: Path) -> Path:
    """A 4-utterance bilingual data dir (2 English, 2 Italian speakers' utterances)."""
    path.mkdir(parents=True)
    utts = [("enus-m1-train00000", "enus-m1", "en", "turn on the light"),
            ("enus-m1-train00002", "enus-m1", "en", "call three"),
            ("it-m1-train00001", "it-m1", "it", "accendi la luce"),
            ("it-m2-train00003", "it-m2", "it", "sette")]
    utts.sort(key=lambda u: u[0].encode())
    (path / "wav.scp").write_text("".join(f"{u} /audio/{u}.wav\n" for u, *_ in utts))
    (path / "text").write_text("".join(f"{u} <{lang}> {words}\n" for u, _, lang, words in utts))
    (path / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s, *_ in utts))
    (path / "utt2lang").write_text("".join(f"{u} {lang}\n" for u, _, lang, _ in utts))
    (path / "utt2dur").write_text("".join(f"{u} 1.500\n" for u, *_ in utts))
    spk: dict[str, list[str]] = {}
    for u, s, *_ in utts:
        spk.setdefault(s, []).append(u)
    (path / "spk2utt").write_text("".join(f"{s} {' '.join(us)}\n" for s, us in sorted(spk.items())))
    return path


def test_a_language_subset_keeps_only_that_language_in_every_file_and_is_made_once(tmp_path):
    mod = _module()
    src = _data_dir(tmp_path / "data" / "train")
    dst = tmp_path / "data" / "train_it"
    assert mod.subset_by_lang(src, dst, "it") == (2, True)
    assert (dst / "wav.scp").read_text() == ("it-m1-train00001 /audio/it-m1-train00001.wav\n"
                                             "it-m2-train00003 /audio/it-m2-train00003.wav\n")
    assert (dst / "text").read_text() == "it-m1-train00001 <it> accendi la luce\nit-m2-train00003 <it> sette\n"
    assert (dst / "utt2lang").read_text() == "it-m1-train00001 it\nit-m2-train00003 it\n"
    assert (dst / "utt2dur").read_text() == "it-m1-train00001 1.500\nit-m2-train00003 1.500\n"
    assert (dst / "spk2utt").read_text() == "it-m1 it-m1-train00001\nit-m2 it-m2-train00003\n"
    assert (dst / ".done").read_text().startswith("subset lang=it of train: ")
    mtime = (dst / "text").stat().st_mtime_ns
    assert mod.subset_by_lang(src, dst, "it") == (2, False)  # the same source: kept
    assert (dst / "text").stat().st_mtime_ns == mtime
    assert mod.subset_by_lang(src, tmp_path / "data" / "train_en", "en") == (2, True)
    assert (tmp_path / "data" / "train_en" / "utt2spk").read_text() == (
        "enus-m1-train00000 enus-m1\nenus-m1-train00002 enus-m1\n")
    # a changed source redoes the subset
    (src / "text").write_text((src / "text").read_text().replace("sette", "otto"))
    assert mod.subset_by_lang(src, dst, "it") == (2, True)
    assert "otto" in (dst / "text").read_text()


def test_a_subset_without_utt2lang_or_without_that_language_is_refused(tmp_path):
    mod = _module()
    src = _data_dir(tmp_path / "train")
    with pytest.raises(ValueError, match=r"train/utt2lang: no utterance of language 'fr'"):
        mod.subset_by_lang(src, tmp_path / "train_fr", "fr")
    assert not (tmp_path / "train_fr").exists()
    (src / "utt2lang").unlink()
    with pytest.raises(ValueError, match=r"train/utt2lang not found: cannot subset"):
        mod.subset_by_lang(src, tmp_path / "train_it", "it")


def test_time_to_target_is_the_first_epoch_at_or_below_the_target():
    mod = _module()
    dev = {1: 40.0, 2: 12.5, 3: 9.0, 4: 10.0, 5: 7.0}
    updates = {e: 100 * e for e in dev}
    seconds = {e: 61.5 * e for e in dev}
    assert mod.time_to_target(dev, updates, seconds, 10.0) == {"epoch": 3, "updates": 300, "seconds": 184.5}
    assert mod.time_to_target(dev, updates, seconds, 12.5) == {"epoch": 2, "updates": 200, "seconds": 123.0}
    assert mod.time_to_target(dev, updates, seconds, 5.0) is None
    assert mod.time_to_target({2: 3.0, 1: float("nan")}, {2: 20}, {}, 5.0) == {"epoch": 2, "updates": 20, "seconds": None}


def _exp(root: Path, name: str, dev_wers: list[float], test_wer: float, accum: int = 2, resumed: bool = False,
         iters: int = 200, test_set: str = "test_it") -> Path:
    """A finished exp dir as the recipe leaves it: train.log, config.yaml, checkpoint_selection.json, test scores."""
    exp = root / name
    exp.mkdir(parents=True)
    head = "[host] 2026-01-01 00:{:02d}:{:02d},000 (trainer:811) INFO: "
    lines = [head.format(0, 0) + f"1/{len(dev_wers)}epoch started"]
    for e in range(1, len(dev_wers) + 1):
        lines.append(head.format(e, 30) + f"{e}epoch results: [train] loss=10.000, total_count={iters * e}, "
                     "[valid] loss=5.000, acc=0.500")
    (exp / "train.log").write_text("\n".join(lines) + "\n")
    if resumed:
        (exp / "train.1.log").write_text("")
    (exp / "config.yaml").write_text(yaml.safe_dump({"accum_grad": accum}))
    rows = [{"epoch": e, "file": f"{e}epoch.pth", "wer": w, "cer": w / 2} for e, w in enumerate(dev_wers, 1)]
    best = min(rows, key=lambda r: (r["wer"], -r["epoch"]))
    (exp / "checkpoint_selection.json").write_text(json.dumps(
        {"set": "dev_it", "best_epoch": best["epoch"], "best_file": best["file"], "wer": best["wer"], "rows": rows}))
    d = exp / "decode_asr_model_valid.wer.best" / test_set
    d.mkdir(parents=True)
    (d / "scores.json").write_text(json.dumps({"wer": {"all": {"err": test_wer}}, "cer": {"all": {"err": 1.0}}}))
    return exp


def test_a_run_result_reads_dev_wer_per_epoch_updates_and_wall_time(tmp_path):
    mod = _module()
    exp = _exp(tmp_path, "asr_x", [30.0, 8.0, 6.0], 7.25)
    r = mod.run_result(exp, 10.0)
    assert r["dev_wer"] == {1: 30.0, 2: 8.0, 3: 6.0}
    assert r["updates"] == {1: 100, 2: 200, 3: 300}  # 200 iterations per epoch, accum_grad 2
    assert r["seconds"] == {1: 90.0, 2: 150.0, 3: 210.0}  # from the log's first timestamp (00:00:00)
    assert r["target"] == {"epoch": 2, "updates": 200, "seconds": 150.0}
    assert (r["best_epoch"], r["best_dev_wer"], r["test_wer"]) == (3, 6.0, 7.25)
    resumed = mod.run_result(_exp(tmp_path, "asr_y", [9.0], 8.0, resumed=True), 10.0)
    assert resumed["target"] == {"epoch": 1, "updates": 100, "seconds": None}  # a restarted train.log: no wall time
    assert mod.run_result(tmp_path / "asr_missing", 10.0) is None


def test_the_summary_aggregates_seeds_with_scratch_as_reference_and_names_missing_runs(tmp_path):
    mod = _module()
    it = tmp_path / mod.TARGET_EXPDIR
    # scratch: reaches 10% at epochs 4 and 6 (accum 2: 100 updates per epoch)
    _exp(it, mod.exp_name("scratch", "-", 1), [90, 50, 20, 9, 8, 7, 7, 7], 8.0)
    _exp(it, mod.exp_name("scratch", "-", 2), [90, 60, 30, 15, 12, 9, 8, 8], 10.0)
    # linear, frozen: epochs 1 and 2; seed 3 never
    _exp(it, mod.exp_name("linear", "frozen", 1), [9.5, 8, 8], 9.0)
    _exp(it, mod.exp_name("linear", "frozen", 2), [11, 10, 9], 11.0)
    _exp(it, mod.exp_name("linear", "frozen", 3), [30, 25, 20], 21.0)
    result = mod.summarize(tmp_path, tmp_path / "s", [1, 2, 3], ["linear"], ["frozen"], 10.0)
    rows = {(r["policy"], r["mode"]): r for r in result["rows"]}
    assert [r["policy"] for r in result["rows"]] == ["scratch", "linear"]  # scratch first
    scratch, lin = rows[("scratch", "-")], rows[("linear", "frozen")]
    assert scratch["seeds"] == [1, 2] and scratch["reached"] == 2
    assert scratch["updates_to_target"]["mean"] == 500 and scratch["updates_to_target"]["sd"] == pytest.approx(141.4214, abs=1e-4)
    assert lin["reached"] == 2 and lin["updates_to_target"]["missing"] == 1
    assert lin["updates_to_target"]["mean"] == 150 and lin["x_scratch"] == pytest.approx(0.3)
    assert lin["seconds_to_target"]["mean"] == 120.0  # epochs 1 and 2 end at 90 s and 150 s
    assert lin["test_wer"]["mean"] == pytest.approx(41 / 3) and lin["test_wer"]["sd"] == pytest.approx(6.4291, abs=1e-4)
    assert result["missing"] == [f"{mod.TARGET_EXPDIR}/asr_scratch_linear_warmup_seed3"]
    md = (tmp_path / "s.md").read_text()
    assert "|scratch|-|2|2 of 2|500 \u00b1 141 [400\u2013600]|1.00|" in md
    assert "|linear|frozen|3|2 of 3|150 \u00b1 71 [100\u2013200] (2 of 3)|0.30|120 \u00b1 42 [90\u2013150] (2 of 3)|" in md
    assert "Not finished yet: exp_it/asr_scratch_linear_warmup_seed3" in md
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["target_wer"] == 10.0 and data["finished"] == 5
    # auto: the highest best dev WER (linear seed 3's 20.0), which every run reaches
    auto = mod.summarize(tmp_path, tmp_path / "a", [1, 2, 3], ["linear"], ["frozen"], None)
    assert auto["target_wer"] == 20.0
    assert all(r["reached"] == len(r["seeds"]) for r in auto["rows"])
    assert {r["policy"]: r["updates_to_target"]["mean"] for r in auto["rows"]} == {
        "scratch": 350, "linear": pytest.approx(500 / 3)}


def test_the_commands_point_training_at_the_language_subsets_and_the_pretrained_model():
    mod = _module()
    cmds = dict(mod.commands([1, 2, 3], ["linear", "exp", "wsd"], ["frozen", "whole"]))
    assert list(cmds) == ["prep", "pretrain_en", "finetune_frozen", "finetune_whole", "scratch_it"]
    assert cmds["prep"] == ["--stage", "1", "--stop_stage", "5", "--train_config", "conf/train_linear_warmup.yaml"]
    pre = cmds["pretrain_en"]
    assert pre[pre.index("--train_set") + 1] == "train_en" and pre[pre.index("--test_sets") + 1] == "test_en test_it"
    assert pre[pre.index("--seeds") + 1] == "1" and "--train_args" not in pre
    whole = cmds["finetune_whole"]
    assert whole[whole.index("--pretrained_model") + 1] == "exp_en/asr_pretrain_linear_warmup_seed1/valid.acc.ave.pth"
    assert whole[whole.index("--train_config") + 1] == (
        "conf/finetune_linear_warmup.yaml conf/finetune_exp_warmup.yaml conf/finetune_wsd.yaml")
    assert whole[whole.index("--train_args") + 1] == "--freeze_param"
    assert whole[whole.index("--valid_set") + 1] == "dev_it" and whole[whole.index("--skip_stages") + 1] == "5"
    assert whole[:2] == ["--stage", "2"]  # the Italian sets are formatted (stages 3-4) by the Italian runs
    assert "--train_args" not in cmds["finetune_frozen"]
    assert cmds["scratch_it"][-2:] == ["--train_config", "ft_conf/scratch_linear_warmup.yaml"]
    smoke = dict(mod.commands([1], ["linear"], ["whole"], "--max_epoch 2", "--num_train 300"))
    assert smoke["prep"][-2:] == ["--local_data_opts", "--num_train 300"]
    assert smoke["finetune_whole"][-2:] == ["--train_args", "--freeze_param --max_epoch 2"]
    assert (mod.exp_name("wsd", "whole", 2), mod.exp_name("scratch", "-", 1)) == (
        "asr_finetune_wsd_whole_seed2", "asr_scratch_linear_warmup_seed1")


def test_the_scratch_config_is_the_pretraining_config_with_the_finetuning_budget(tmp_path):
    mod = _module()
    assert mod.write_scratch_config(tmp_path) == "ft_conf/scratch_linear_warmup.yaml"
    conf = yaml.safe_load((tmp_path / "ft_conf/scratch_linear_warmup.yaml").read_text())
    base = yaml.safe_load((ROOT / "conf/train_linear_warmup.yaml").read_text())
    assert (conf["accum_grad"], conf["num_iters_per_epoch"], conf["max_epoch"], conf["keep_nbest_models"]) == (2, 200, 8, 8)
    assert {k: v for k, v in conf.items() if k not in mod.BUDGET_KEYS} == {
        k: v for k, v in base.items() if k not in mod.BUDGET_KEYS}


@pytest.mark.parametrize("argv, message", [
    (["--policies", "cosine"], "--policies: unknown cosine; allowed: linear, exp, wsd, linear_peak1e-3"),
    (["--modes", "half"], "--modes: unknown half; allowed: frozen, whole, frozen_newheads"),
    (["--target_wer", "low"], "--target_wer must be a WER in percent or auto, got 'low'"),
    (["--target_wer", "150"], "--target_wer must be in [0, 100], got 150"),
    (["--seeds", "a"], "--seeds must be integers"),
])
def test_bad_options_are_refused_naming_the_option(argv, message, capsys, tmp_path):
    mod = _module()
    with pytest.raises(SystemExit) as e:
        mod.main(argv + ["--report_only", "--workdir", str(tmp_path)])
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_a_results_dir_keeps_each_finished_run_and_completes_a_study_made_in_pieces(tmp_path):
    mod = _module()
    # piece 1 (seed 1) in one workdir, piece 2 (seed 2) in another with another pretrained model
    one, two, results = tmp_path / "one", tmp_path / "two", tmp_path / "results"
    for workdir, payload in ((one, b"model A"), (two, b"model B")):
        model = workdir / mod.pretrained_model()
        model.parent.mkdir(parents=True)
        model.write_bytes(payload)
    _exp(one / mod.TARGET_EXPDIR, mod.exp_name("linear", "frozen", 1), [12, 9, 8], 8.5)
    _exp(two / mod.TARGET_EXPDIR, mod.exp_name("linear", "frozen", 2), [11, 10, 9], 9.5)
    first = mod.summarize(one, tmp_path / "s1", [1, 2], ["linear"], ["frozen"], 10.0, results)
    sha_a = mod.file_sha256(one / mod.pretrained_model())
    assert first["finished"] == 1 and f"{mod.TARGET_EXPDIR}/asr_finetune_linear_warmup_frozen_seed2" in first["missing"]
    archived = results / f"asr_finetune_linear_warmup_frozen_seed1__{sha_a[:8]}.json"
    record = json.loads(archived.read_text())
    assert (record["seed"], record["test_wer"], record["pretrained_sha256"]) == (1, 8.5, sha_a)
    assert record["machine"]["cores"] and "source" not in record
    assert not list(results.glob("*.tmp"))
    # a later summary does not rewrite (relabel) a record that is there
    before = archived.read_text()
    mod.summarize(one, tmp_path / "s1b", [1, 2], ["linear"], ["frozen"], 10.0, results)
    assert archived.read_text() == before
    second = mod.summarize(two, tmp_path / "s2", [1, 2], ["linear"], ["frozen"], 10.0, results)
    lin = next(r for r in second["rows"] if r["policy"] == "linear")
    assert lin["seeds"] == [1, 2] and lin["test_wer"]["mean"] == pytest.approx(9.0)
    assert lin["updates_to_target"]["mean"] == 200  # both reach 10% at epoch 2 (seed 1 read from its record)
    by_seed = {r["seed"]: r for r in second["runs"]}
    assert by_seed[1]["source"] == str(archived) and by_seed[2]["source"] == "here"
    assert set(second["pretrained_models"]) == {mod.file_sha256(two / mod.pretrained_model()), sha_a[:8]}
    md = (tmp_path / "s2.md").read_text()
    assert "Runs: 1 made in this workdir, 1 read from the results dir." in md and f"`{sha_a[:8]}`" in md
    # piece 2's own record did not replace piece 1's (another pretrained model, another file)
    assert len(list(results.glob("asr_finetune_linear_warmup_frozen_seed1__*.json"))) == 1
    assert len(list(results.glob("asr_finetune_linear_warmup_frozen_seed2__*.json"))) == 1
    # a file that is no run record is refused, naming it
    (results / "asr_finetune_linear_warmup_frozen_seed3__deadbeef.json").write_text('{"seed": 3}')
    with pytest.raises(ValueError, match=r"seed3__deadbeef.json: not a run record of this study \(missing policy"):
        mod.summarize(two, tmp_path / "s3", [3], ["linear"], ["frozen"], 10.0, results)


def test_the_pretraining_config_is_the_recipe_config_trained_twice_as_long(tmp_path):
    mod = _module()
    assert mod.write_pretrain_config(tmp_path) == "ft_conf/pretrain_linear_warmup.yaml"
    conf = yaml.safe_load((tmp_path / "ft_conf/pretrain_linear_warmup.yaml").read_text())
    base = yaml.safe_load((ROOT / "conf/train_linear_warmup.yaml").read_text())
    assert conf["max_epoch"] == 12 == 2 * base["max_epoch"]
    assert {k: v for k, v in conf.items() if k != "max_epoch"} == {k: v for k, v in base.items() if k != "max_epoch"}
    assert mod.pretrained_model() == "exp_en/asr_pretrain_linear_warmup_seed1/valid.acc.ave.pth"


def test_the_variants_new_output_layers_and_the_scratch_peak_are_opt_in(tmp_path):
    mod = _module()
    cmds = dict(mod.commands([1], ["linear_peak1e-3"], ["frozen_newheads"]))
    ft = cmds["finetune_frozen_newheads"]
    assert ft[ft.index("--pretrained_model") + 1] == (
        "exp_en/asr_pretrain_linear_warmup_seed1/valid.acc.ave.pth:::ctc.ctc_lo,decoder.output_layer")
    assert ft[ft.index("--asr_tag") + 1] == "frozen_newheads" and "--train_args" not in ft  # the encoder stays frozen
    assert ft[ft.index("--train_config") + 1] == "ft_conf/finetune_linear_peak1e-3.yaml"
    assert mod.exp_name("linear_peak1e-3", "frozen", 1) == "asr_finetune_linear_peak1e-3_frozen_seed1"
    assert mod.write_peak_variant_config(tmp_path) == "ft_conf/finetune_linear_peak1e-3.yaml"
    conf = yaml.safe_load((tmp_path / "ft_conf/finetune_linear_peak1e-3.yaml").read_text())
    base = yaml.safe_load((ROOT / "conf/finetune_linear_warmup.yaml").read_text())
    assert conf["optim_conf"] == dict(base["optim_conf"], lr=1e-3) and base["optim_conf"]["lr"] == 1e-4
    assert {k: v for k, v in conf.items() if k != "optim_conf"} == {k: v for k, v in base.items() if k != "optim_conf"}
    assert (mod.DEFAULT_POLICIES, mod.DEFAULT_MODES) == (("linear", "exp", "wsd"), ("frozen", "whole"))


def test_the_voices_target_fine_tunes_on_the_test_speakers_adaptation_set_into_its_own_dirs(tmp_path):
    mod = _module()
    cmds = dict(mod.commands([1, 2], ["linear", "exp"], ["frozen", "whole"], target="voices"))
    assert list(cmds) == ["prep", "pretrain_en", "finetune_frozen_voices", "finetune_whole_voices", "scratch_voices"]
    assert cmds["prep"][-2:] == ["--local_data_opts", "--num_adapt 2400 --num_adapt_dev 300"]
    # one pretraining (exp_en) for every target; it also decodes the target's dev set (the zero-shot WER there)
    pre, pre_it = cmds["pretrain_en"], dict(mod.commands([1], ["linear"], ["frozen"]))["pretrain_en"]
    assert pre[pre.index("--test_sets") + 1] == "test_en test_it adapt_dev_en"
    assert [a for a in pre if a != "test_en test_it adapt_dev_en"] == [a for a in pre_it if a != "test_en test_it"]
    for name in ("finetune_frozen_voices", "finetune_whole_voices", "scratch_voices"):
        c = cmds[name]
        assert [c[c.index(k) + 1] for k in ("--train_set", "--valid_set", "--test_sets", "--expdir")] == [
            "adapt_en", "adapt_dev_en", "test_en", "exp_voices"]
    smoke = dict(mod.commands([1], ["linear"], ["frozen"], "", " ".join([mod.SMOKE_CORPUS, mod.SMOKE_ADAPT]),
                              target="voices"))
    assert smoke["prep"][-1] == "--num_train 300 --num_dev 40 --num_test 40 --num_adapt 120 --num_adapt_dev 40"
    # the adaptation sets, when data.sh made them, are subset by language like the corpus' splits
    for split in ("train", "dev", "test", "adapt", "adapt_dev"):
        _data_dir(tmp_path / "data" / split)
    made = mod.make_subsets(tmp_path)
    assert made["adapt_en"] == 2 and made["adapt_dev_it"] == 2
    # its runs are scored on test_en, recorded under <results_dir>/voices, reported with their data named
    model = tmp_path / mod.pretrained_model()
    model.parent.mkdir(parents=True)
    model.write_bytes(b"model")
    _exp(tmp_path / "exp_voices", mod.exp_name("linear", "frozen", 1), [9, 6, 7], 5.5, test_set="test_en")
    for test_set, wer in (("test_en", 9.2), ("test_it", 103.0), ("adapt_dev_en", 8.4)):
        d = model.parent / "decode_asr_model_valid.acc.ave" / test_set
        d.mkdir(parents=True)
        (d / "scores.json").write_text(json.dumps({"wer": {"all": {"err": wer}}}))
    results = tmp_path / "results"
    res = mod.summarize(tmp_path, tmp_path / "v", [1], ["linear"], ["frozen"], 8.0, results, target="voices")
    assert res["pretrained_wer"] == {"test_en": 9.2, "test_it": 103.0, "adapt_dev_en": 8.4}
    assert res["target"] == "voices" and res["finished"] == 1
    assert res["missing"] == ["exp_voices/asr_scratch_linear_warmup_seed1"]
    run = res["runs"][0]
    assert (run["test_wer"], run["best_dev_wer"], run["target"]["updates"]) == (5.5, 6, 200)
    sha8 = mod.file_sha256(model)[:8]
    assert [p.name for p in (results / "voices").iterdir()] == [f"asr_finetune_linear_warmup_frozen_seed1__{sha8}.json"]
    assert json.loads((results / f"pretrain__{sha8}.json").read_text())["wer"] == {"test_en": 9.2, "test_it": 103.0}
    assert not list(results.glob("asr_*.json"))  # the Italian study's records are not mixed with these
    md = (tmp_path / "v.md").read_text()
    assert md.startswith("# Fine-tuning EN -> the held-out EN voices (the test speakers):")
    assert "Fine-tuning data: adapt_en (dev: adapt_dev_en, test: test_en; local/data.sh --num_adapt 2400" in md
    # the Italian study of the same workdir does not see the voices runs
    it = mod.summarize(tmp_path, tmp_path / "i", [1], ["linear"], ["frozen"], 8.0, results)
    assert it["finished"] == 0


def test_each_target_has_its_own_default_target_wer(tmp_path):
    mod = _module()
    for target, wer, out in (("it", 10.0, "finetune"), ("voices", 7.0, "finetune_voices")):
        assert mod.main(["--workdir", str(tmp_path), "--report_only", "--seeds", "1", "--target", target]) == 0
        assert json.loads((tmp_path / f"{out}.json").read_text())["target_wer"] == wer
    assert mod.main(["--workdir", str(tmp_path), "--report_only", "--seeds", "1", "--target", "voices",
                     "--target_wer", "5", "--out", str(tmp_path / "v5")]) == 0
    assert json.loads((tmp_path / "v5.json").read_text())["target_wer"] == 5.0
