"""Checkpoint selection by real WER (``./run.sh --select_by_wer true``, stage 12).

ESPnet keeps the epoch checkpoints its ``best_model_criterion`` ranks best, by numbers that are not a
WER a user means: ``valid acc`` and ``valid wer`` come from the attention decoder's teacher-forced
argmax (no decoding), with BPE its "wer" counts sentence errors, and a CTC-only model reports none
(NaN: ``[[valid, wer, min]]`` then keeps epoch 1). Stage 12 therefore decodes the validation set with
every kept ``<exp>/<N>epoch.pth`` (the recipe's own decoding: ``espnet2.bin.asr_inference`` with
``--inference_config``, and the recipe's scorer, which joins BPE pieces into words), into
``<exp>/select_wer/<N>epoch/<valid set>/``; this module then reads those scores and

* writes ``<exp>/checkpoint_selection.md`` (the table: epoch, dev WER, CER, errors, words, and ESPnet's
  own ``valid acc``/``valid wer`` of that epoch from ``train.log`` for comparison) and
  ``checkpoint_selection.json``;
* points ``<exp>/valid.wer.best.pth`` (a symlink, as ESPnet's ``valid.acc.best.pth``) at the epoch with
  the lowest dev WER (ties: lower CER, then the later epoch);
* with ``--keep_only_best``, deletes the other ``<N>epoch.pth`` files (never the chosen one, never
  ``checkpoint.pth``, which resuming needs; their rows stay in the table, marked deleted).

CLI (asr.sh)::

    python3 -m espnet_warmup.recipe.stages.select_checkpoint <exp dir> --set <valid set> [--keep_only_best]

Exit 0: selected; 1: no scored checkpoint (the message says what is missing).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from pathlib import Path

from espnet_warmup.recipe.atomic import atomic_write_text

BEST = "valid.wer.best.pth"
TABLE = "checkpoint_selection"
_EPOCH_FILE = re.compile(r"^(\d+)epoch\.pth$")


def epoch_files(exp: Path) -> dict[int, Path]:
    """The kept epoch checkpoints of an exp dir: epoch -> <N>epoch.pth."""
    out = {}
    for p in exp.iterdir():
        m = _EPOCH_FILE.match(p.name)
        if m and p.is_file():
            out[int(m.group(1))] = p
    return dict(sorted(out.items()))


_RESULTS = re.compile(r"(\d+)epoch results: .*?\[valid\] (.*?)(?:, \[|$)")


def espnet_valid_values(exp: Path) -> dict[int, dict[str, float]]:
    """ESPnet's own per-epoch validation numbers (acc, wer, cer, cer_ctc) from train.log, for the table
    (a resumed training logs an epoch again: the last line wins)."""
    out: dict[int, dict[str, float]] = {}
    log = exp / "train.log"
    if not log.is_file():
        return out
    for line in log.read_text(errors="replace").splitlines():
        m = _RESULTS.search(line)
        if not m:
            continue
        values = {}
        for item in m.group(2).split(", "):
            key, _, value = item.partition("=")
            if key in ("acc", "wer", "cer", "cer_ctc"):
                try:
                    values[key] = float(value)
                except ValueError:
                    pass
        out[int(m.group(1))] = values
    return out


def read_score(dir_: Path) -> dict | None:
    path = dir_ / "scores.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    wer, cer = data["wer"]["all"], data["cer"]["all"]
    return {"wer": wer["err"], "cer": cer["err"], "word_errors": wer["n_err"], "words": wer["n_ref"]}


def select(exp: Path, dset: str, keep_only_best: bool = False) -> dict:
    exp = Path(exp)
    files = epoch_files(exp)
    previous = {}
    table_json = exp / f"{TABLE}.json"
    if table_json.is_file():  # rows of checkpoints deleted by an earlier --keep_only_best
        for row in json.loads(table_json.read_text()).get("rows", []):
            if row.get("deleted"):
                previous[int(row["epoch"])] = row
    rows, missing = [], []
    espnet = espnet_valid_values(exp)
    for epoch, path in files.items():
        score = read_score(exp / "select_wer" / path.stem / dset)
        if score is None:
            missing.append(path.name)
            continue
        rows.append({"epoch": epoch, "file": path.name, **score, "espnet": espnet.get(epoch, {}), "deleted": False})
    for epoch, row in previous.items():
        if epoch not in files:
            rows.append(row)
    if missing:
        raise SystemExit(f"select_checkpoint: {exp}: no dev scores for {', '.join(missing)} "
                         f"(expected {exp}/select_wer/<N>epoch/{dset}/scores.json; run stage 12 again)")
    live = [r for r in rows if not r["deleted"]]
    if not live:
        raise SystemExit(f"select_checkpoint: {exp}: no <N>epoch.pth checkpoint to choose from "
                         f"(keep_nbest_models kept none, or they were deleted)")
    best = min(live, key=lambda r: (r["wer"], r["cer"], -r["epoch"]))
    link = exp / BEST
    tmp = exp / f".{BEST}.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(best["file"], tmp)
    os.replace(tmp, link)
    if keep_only_best:
        for r in live:
            if r is not best:
                (exp / r["file"]).unlink(missing_ok=True)
                r["deleted"] = True
    rows.sort(key=lambda r: r["epoch"])
    result = {"set": dset, "best_epoch": best["epoch"], "best_file": best["file"], "link": BEST,
              "wer": best["wer"], "rows": rows}
    atomic_write_text(table_json, json.dumps(result, indent=1) + "\n")
    atomic_write_text(exp / f"{TABLE}.md", render(exp, result))
    return result


def _num(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4g}" if isinstance(v, float) else str(v)


def render(exp: Path, result: dict) -> str:
    lines = [f"# Checkpoint selection by dev WER: {exp.name}", "",
             f"Each kept epoch checkpoint decoded on `{result['set']}` (stage 12's decoding and scorer); "
             f"`{BEST}` -> `{result['best_file']}` (lowest WER; ties: lower CER, later epoch). "
             "ESPnet's columns are its teacher-forced validation numbers from train.log, for comparison.", "",
             "| epoch | file | dev WER % | dev CER % | word errors / words | ESPnet valid acc | ESPnet valid wer | |",
             "|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        e = r.get("espnet", {})
        mark = "**chosen**" if r["epoch"] == result["best_epoch"] else ("deleted" if r["deleted"] else "")
        lines.append(f"| {r['epoch']} | {r['file']} | {r['wer']:.2f} | {r['cer']:.2f} | {r['word_errors']} / {r['words']} "
                     f"| {_num(e.get('acc'))} | {_num(e.get('wer'))} | {mark} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m espnet_warmup.recipe.stages.select_checkpoint",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("exp", type=Path)
    ap.add_argument("--set", required=True, help="the validation set decoded under <exp>/select_wer/<N>epoch/")
    ap.add_argument("--keep_only_best", action="store_true", help="delete the other <N>epoch.pth files")
    args = ap.parse_args(argv)
    try:
        result = select(args.exp, args.set, args.keep_only_best)
    except SystemExit as e:
        print(e.code, file=sys.stderr)
        return 1
    print(f"{args.exp}/{BEST} -> {result['best_file']} (dev WER {result['wer']:.2f}%, "
          f"{len(result['rows'])} checkpoints; table: {args.exp}/{TABLE}.md)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
