"""``espnet-warmup select-s2t``: checkpoint choice by decoded dev WER for ESPnet's s2t task (OWSM).

A tiny real s2t training (tests/s2t_tiny.py, through our launcher, 3 epochs, every epoch kept) is decoded
epoch by epoch with the real ``espnet2.bin.s2t_inference``:

* each epoch's WER in the table equals an independent word edit distance between its hypotheses (OWSM's
  special tokens removed) and the ``text_ctc`` references, and ``valid.wer.best.pth`` points at the lowest
  (ties: lower CER, then the later epoch);
* a rerun decodes nothing again; ``--keep_only_best`` then deletes the other epochs (never checkpoint.pth);
* bad input (a language token not in the model's token list, no config.yaml, a config without the keys
  s2t_inference reads, references missing) exits 1 naming the option or file; a checkpoint the decoder cannot
  load is named with the decoder's log kept, nothing marked done;
* a SIGTERM during a decoding stops the decoder's whole tree, exits 143 and leaves nothing marked done.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from s2t_tiny import make_s2t_data, run_s2t

pytestmark = pytest.mark.slow

EPOCHS = 3
DECODE = ["--lang_sym", "<en>", "--inference_args", "--beam_size 2"]


def words_distance(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def kaldi_text(path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        out[key] = value.strip()
    return out


def select(exp, data, *extra, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "espnet_warmup.cli", "select-s2t", str(exp), "--data", str(data),
                           "--set", "valid", *extra], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, OMP_NUM_THREADS="1"), **kw)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("s2t_select")
    data = make_s2t_data(root)
    exp = root / "exp"
    # 25 updates an epoch: the epochs decode differently (here: 268%, 55%, 58% WER), so the choice is not a tie
    run_s2t(data, exp, "--max_epoch", str(EPOCHS), "--num_iters_per_epoch", "25", "--keep_nbest_models", str(EPOCHS),
            "--optim", "adam", "--optim_conf", "lr=0.01",
            "--scheduler", "exponentialwarmuplr", "--scheduler_conf", "warmup_steps=10",
            # s2t_inference reads these (OWSM's configs set them; the values are ESPnet's S2TPreprocessor defaults)
            "--preprocessor_conf", "notime_symbol=<notimestamps>", "--preprocessor_conf", "fs=16000", timeout=900)
    assert sorted(p.name for p in exp.glob("*epoch.pth")) == [f"{e}epoch.pth" for e in range(1, EPOCHS + 1)]
    return data, exp


def test_selects_lowest_decoded_wer_and_resumes(trained, tmp_path):
    data, trained_exp = trained
    exp = tmp_path / "exp"
    shutil.copytree(trained_exp, exp, symlinks=True)
    proc = select(exp, data, *DECODE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout == ""  # a guest: everything it says goes to stderr
    refs = kaldi_text(data / "text_ctc")
    keys = list(kaldi_text(data / "wav.scp"))
    result = json.loads((exp / "checkpoint_selection.json").read_text())
    assert [r["epoch"] for r in result["rows"]] == list(range(1, EPOCHS + 1))
    expected = {}
    for row in result["rows"]:
        d = exp / "select_wer" / f"{row['epoch']}epoch" / "valid"
        hyps = kaldi_text(d / "text")
        assert list(hyps) == keys
        espnet_hyps = kaldi_text(d / "logdir" / "output" / "1best_recog" / "text_nospecial")
        for k in keys:  # ESPnet's own hypothesis, special tokens (if any) removed, and none left
            assert hyps[k] == " ".join(t for t in espnet_hyps[k].split() if not t.startswith("<"))
            assert "<" not in hyps[k]
        errors = sum(words_distance(refs[k].split(), hyps[k].split()) for k in keys)
        words = sum(len(refs[k].split()) for k in keys)
        assert (row["word_errors"], row["words"]) == (errors, words)
        assert row["wer"] == pytest.approx(100.0 * errors / words, abs=0.005)  # scores.json: 2 decimals
        expected[row["epoch"]] = (row["wer"], row["cer"], -row["epoch"])
        assert (d / ".done").is_file()
    assert len({w for w, _, _ in expected.values()}) > 1, expected  # a real choice, not a tie
    best = min(expected, key=expected.get)
    assert result["best_epoch"] == best
    assert os.readlink(exp / "valid.wer.best.pth") == f"{best}epoch.pth"
    assert f"valid.wer.best.pth -> {best}epoch.pth" in proc.stderr
    table = (exp / "checkpoint_selection.md").read_text()
    assert "**chosen**" in table and f"| {best} | {best}epoch.pth |" in table

    texts = {e: (exp / "select_wer" / f"{e}epoch" / "valid" / "text").stat().st_mtime_ns for e in expected}
    again = select(exp, data, *DECODE, "--keep_only_best")
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stderr.count("already decoded") == EPOCHS and "decoding" not in again.stderr
    assert texts == {e: (exp / "select_wer" / f"{e}epoch" / "valid" / "text").stat().st_mtime_ns for e in expected}
    assert sorted(p.name for p in exp.glob("*epoch.pth")) == [f"{best}epoch.pth"]
    assert (exp / "checkpoint.pth").is_file()
    rows = json.loads((exp / "checkpoint_selection.json").read_text())["rows"]
    assert [r["deleted"] for r in rows] == [r["epoch"] != best for r in rows]

    # another decoding option is another decoding: the kept epoch is decoded again
    other = select(exp, data, "--lang_sym", "<en>", "--inference_args", "--beam_size 1")
    assert other.returncode == 0, other.stderr[-3000:]
    assert other.stderr.count("select-s2t: decoding") == 1


def test_bad_input_is_refused_naming_it(trained, tmp_path):
    data, exp = trained
    proc = select(exp, data, "--lang_sym", "<xx>")
    assert proc.returncode == 1
    assert "--lang_sym <xx>: not in the token list of" in proc.stderr and "<en>" in proc.stderr
    empty = tmp_path / "noconf"
    empty.mkdir()
    (empty / "1epoch.pth").write_bytes(b"")
    proc = select(empty, data, *DECODE)
    assert proc.returncode == 1 and f"{empty / 'config.yaml'}: not found" in proc.stderr
    noconf = tmp_path / "notime"
    noconf.mkdir()
    shutil.copy(exp / "1epoch.pth", noconf / "1epoch.pth")
    text = (exp / "config.yaml").read_text()
    assert "    notime_symbol: <notimestamps>\n" in text
    (noconf / "config.yaml").write_text(text.replace("    notime_symbol: <notimestamps>\n", ""))
    proc = select(noconf, data, *DECODE)
    assert proc.returncode == 1 and f"{noconf / 'config.yaml'}: preprocessor_conf has no notime_symbol" in proc.stderr
    ref = tmp_path / "ref"
    ref.write_text("utt000 a b\n")
    proc = select(exp, data, *DECODE, "--ref", str(ref))
    assert proc.returncode == 1
    assert f"{ref}: no reference for 7 of 8 utterances" in proc.stderr and "utt001" in proc.stderr
    assert not (exp / "select_wer").exists()
    # a checkpoint the decoder cannot load (cut by a full disk): named, its log kept, nothing marked done
    cut = tmp_path / "cut"
    cut.mkdir()
    shutil.copy(exp / "config.yaml", cut / "config.yaml")
    (cut / "1epoch.pth").write_bytes((exp / "1epoch.pth").read_bytes()[:1000])
    proc = select(cut, data, *DECODE)
    assert proc.returncode == 1
    failed = cut / "select_wer" / "1epoch" / "valid.failed.log"
    assert f"1epoch.pth: espnet2.bin.s2t_inference exited with status 1; log: {failed}" in proc.stderr
    assert "Traceback" in failed.read_text()
    assert [p.name for p in (cut / "select_wer" / "1epoch").iterdir()] == ["valid.failed.log"]


def test_sigterm_stops_the_decoder_and_marks_nothing_done(trained, tmp_path):
    data, trained_exp = trained
    exp = tmp_path / "exp_sig"
    exp.mkdir()
    for name in ("config.yaml", "1epoch.pth"):
        shutil.copy(trained_exp / name, exp / name)
    proc = subprocess.Popen([sys.executable, "-m", "espnet_warmup.cli", "select-s2t", str(exp), "--data", str(data),
                             "--set", "valid", *DECODE], stderr=subprocess.PIPE, text=True)
    epoch_dir = exp / "select_wer" / "1epoch"
    deadline = time.monotonic() + 120
    decoders: list[str] = []
    while not decoders:
        assert proc.poll() is None and time.monotonic() < deadline, "the decoder did not start"
        time.sleep(0.05)
        if list(epoch_dir.glob(".valid.*.tmp/logdir/decode.log")):
            decoders = subprocess.run(["pgrep", "-f", f"s2t_inference.*{exp}"], capture_output=True,
                                      text=True).stdout.split()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "not marked done" in err
    time.sleep(0.5)
    assert subprocess.run(["pgrep", "-f", f"s2t_inference.*{exp}"], capture_output=True).returncode == 1
    assert list(epoch_dir.iterdir()) == []  # no temp dir left, no epoch dir, no .done
    assert not (exp / "valid.wer.best.pth").exists() and not (exp / "checkpoint_selection.json").exists()
