"""``espnet-warmup report``: RESULTS.md across warmup policies (recipe stage 14).

    espnet-warmup report --expdir exp --out RESULTS.md [exp/asr_train_linear_warmup ...]

For every experiment dir (given, or every sub-dir of ``--expdir`` holding a train.log or
tensorboard/), the report puts in one table:

* the model: encoder, decoder (``transducer`` for a Conformer-transducer) and CTC weight, so
  that attention/CTC runs and transducer runs of one exp dir are told apart (:func:`model_label`);
* WER and CER per test set, from ``<exp>/<decode dir>/<test set>/scores.json`` (written
  by the stage-13 scorer, :mod:`espnet_warmup.recipe.scoring.scorer`; ``--decode_dir`` picks
  the decode dir when there are several, default: the first by name; given more than once, each
  experiment takes the first of them it has scores in: asr.sh names its attention/CTC and its
  transducer decode dirs);
* optimizer updates needed to reach the target validation accuracy (``--target_acc``; a
  transducer reports no accuracy: a dash;
  default: 90% of the best validation accuracy any of the runs reached, so the column
  compares convergence speed, not final quality; interpolated between the epoch-end
  validations around the crossing, see :func:`espnet_warmup.recipe.analysis.metrics.updates_to_accuracy`);
* peak and median gradient norm during warmup (the logged per-interval norms up to the
  last warmup update of the run's scheduler, :func:`espnet_warmup.espnet_config.scheduler_spec`,
  so any registered scheduler that declares its warmup works; before clipping), spikes, % clipped
  updates, skipped non-finite updates, wall time;

then, when experiments are seed runs of one policy (``<exp>_seed<N>``, from ``asr.sh --seeds``), a
table across seeds per policy: WER, updates to the target accuracy and the warmup grad-norm peak as
mean, sample standard deviation and range (:func:`seed_groups`, :func:`aggregate`);
then a per-language WER table, the pictures (``plot-lr`` of the runs' ``config.yaml``
and ``curves``, written to ``--images_dir``, default ``<out dir>/images``) and, for test
sets that match upstream OWSM's, the published OWSM v3 / v3.1 numbers beside ours
(:func:`espnet_warmup.recipe.owsm.comparison_table`; a dash and a sentence where nothing
matches). The file is written to a temporary name and renamed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import sys
from pathlib import Path
from typing import Any

from espnet_warmup.espnet_config import ConfigError, scheduler_spec
from espnet_warmup.recipe.analysis import metrics
from espnet_warmup.recipe.analysis.curves import fmt, fmt_seconds, plot_curves, summary_row
from espnet_warmup.recipe.analysis.logs import LogFormatError
from espnet_warmup.recipe.analysis.runs import RunCurves, load_run
from espnet_warmup.recipe.atomic import atomic_write_text
from espnet_warmup.recipe.scoring import results as results_mod


class ReportError(ValueError):
    """Bad report input; the message names the path."""


# ----------------------------------------------------------------------------- discovery
def _is_training_dir(p: Path) -> bool:
    return p.is_dir() and ((p / "train.log").is_file() or (p / "tensorboard" / "train").is_dir())


def find_experiments(expdir: Path | None, explicit: list[str]) -> list[Path]:
    """The explicit dirs (each must hold train.log or tensorboard/), else every training
    sub-dir of ``expdir``, sorted by name."""
    if explicit:
        dirs = [Path(d) for d in explicit]
        for d in dirs:
            if not _is_training_dir(d):
                raise ReportError(f"{d}: not an ESPnet experiment dir (no train.log or tensorboard/train/)")
        return dirs
    if expdir is None or not expdir.is_dir():
        raise ReportError(f"{expdir}: no such directory (--expdir)")
    dirs = sorted(p for p in expdir.iterdir() if _is_training_dir(p))
    if not dirs:
        raise ReportError(f"{expdir}: no experiment dirs with a train.log or tensorboard/train/ found")
    return dirs


def read_scores(exp: Path, decode_dir: str | list[str] | None) -> tuple[str | None, dict[str, dict]]:
    """(decode dir name, {test set: scores.json dict}) of one experiment. ``decode_dir``: a name, or
    names in order of preference (the first this experiment has scores in); None: the first by name."""
    cands = sorted(p for p in exp.glob("decode_*") if p.is_dir())
    if decode_dir is not None:
        names = [decode_dir] if isinstance(decode_dir, str) else list(decode_dir)
        cands = [exp / n for n in names if (exp / n).is_dir()]
    cands = [p for p in cands if list(p.glob("*/scores.json"))]
    if not cands:
        return None, {}
    ddir = cands[0]
    out = {}
    for f in sorted(ddir.glob("*/scores.json")):
        try:
            data = json.loads(f.read_text())
        except json.JSONDecodeError as err:
            raise ReportError(f"{f}: not valid JSON ({err})") from None
        if not isinstance(data, dict) or "wer" not in data or "all" not in data.get("wer", {}):
            raise ReportError(f"{f}: expected {{'wer': {{'all': {{'err': ...}}}}, 'cer': ...}} (scorer output)")
        out[f.parent.name] = data
    return ddir.name, out


def _err(scores: dict, metric: str, key: str = "all") -> float | None:
    v = scores.get(metric, {}).get(key, {}).get("err")
    return None if v is None else float(v)


# ----------------------------------------------------------------------------- per run
def warmup_iterations(run: RunCurves) -> int | None:
    """Last warmup iteration of the run: its scheduler's last warmup update (the peak) x accum_grad.

    None when the run has no scheduler, one without a warmup, or one that cannot be read (an
    unknown name: the report still shows the run).
    """
    try:
        warmup_end = scheduler_spec(run.config).warmup_end
    except ConfigError:
        return None
    return None if warmup_end is None else warmup_end * run.accum_grad


def scheduler_label(config: dict[str, Any]) -> str:
    """The config's scheduler name; for a shape x tail family also its shape and tail, e.g.
    ``warmupschedulelr (exponential + cosine)`` (the runs of a grid share one scheduler name)."""
    name = config.get("scheduler") or "none"
    try:
        spec = scheduler_spec(config)
    except ConfigError:
        return str(name)
    if spec.cls is None:
        return str(name)
    conf = {**spec.conf, **getattr(spec.cls, "fixed", {})}
    shape, tail = conf.get("shape"), conf.get("tail")
    if isinstance(shape, str) and isinstance(tail, str) and hasattr(spec.cls, "config_problems"):
        return f"{name} ({shape} + {tail})"
    return str(name)


def model_label(config: dict[str, Any]) -> str:
    """What the run trained, from its config.yaml: ``<encoder> + <decoder> (CTC <weight>)``, e.g.
    ``conformer + transducer (CTC 0.3)`` or ``conformer + transformer (CTC 0.5)`` (ESPnet's defaults
    where the config has no value: rnn encoder, CTC weight 0.5); a CTC-only model is ``<encoder> + CTC``."""
    encoder = config.get("encoder") or "rnn"
    decoder = config.get("decoder")
    ctc = (config.get("model_conf") or {}).get("ctc_weight", 0.5)
    if decoder in (None, "none", "None") or ctc == 1.0 and decoder != "transducer":
        return f"{encoder} + CTC"
    return f"{encoder} + {decoder} (CTC {ctc:g})" if isinstance(ctc, (int, float)) else f"{encoder} + {decoder}"


def _reach(r: metrics.Reach | None) -> str:
    if r is None:
        return "not reached"
    return f"\u2264 {r.updates}" if r.upper_bound else str(r.updates)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


# ----------------------------------------------------------------------------- across seeds
_SEED_RE = re.compile(r"^(?P<policy>.+)_seed(?P<seed>\d+)$")


def policy_of(name: str) -> tuple[str, int | None]:
    """(policy, seed) of an exp dir name: ``asr_x_seed3`` -> (``asr_x``, 3); other names: (name, None)."""
    m = _SEED_RE.match(name)
    return (m.group("policy"), int(m.group("seed"))) if m else (name, None)


def seed_groups(names: list[str]) -> dict[str, list[str]]:
    """Exp names grouped by policy (the name without ``_seed<N>``), in first-seen order; a run
    without a seed suffix is its own group."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(policy_of(name)[0], []).append(name)
    return groups


class Spread(dict):
    """n, mean, sd (sample, n-1; None for n < 2), min, max of the finite values given; ``missing``:
    how many runs had no value (not reached, not scored, diverged)."""

    @classmethod
    def of(cls, values: list[float | None]) -> "Spread":
        vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
        return cls(n=len(vals), missing=len(values) - len(vals),
                   mean=statistics.fmean(vals) if vals else None,
                   sd=statistics.stdev(vals) if len(vals) > 1 else None,
                   min=min(vals) if vals else None, max=max(vals) if vals else None)

    def cell(self, digits: int = 2) -> str:
        """``mean ± sd [min-max]``; ``(k of n)`` when some runs had no value; ``-`` for none."""
        if not self["n"]:
            return "-"
        d = f".{digits}f"
        text = format(self["mean"], d)
        if self["sd"] is not None:
            text += f" \u00b1 {self['sd']:{d}} [{self['min']:{d}}\u2013{self['max']:{d}}]"
        if self["missing"]:
            text += f" ({self['n']} of {self['n'] + self['missing']})"
        return text


def aggregate(rows: list[dict[str, Any]], test_sets: list[str]) -> list[dict[str, Any]]:
    """One entry per policy (seed group) of the report's rows: its seeds and the spread of each
    test set's WER and CER, the updates to the target accuracy (an upper bound ``<= N`` counts as
    N), the warmup grad-norm peak, and the runs with skipped (non-finite) updates."""
    by_name = {r["name"]: r for r in rows}
    out = []
    for policy, names in seed_groups([r["name"] for r in rows]).items():
        group = [by_name[n] for n in names]
        entry: dict[str, Any] = {
            "policy": policy, "runs": names, "scheduler": group[0]["scheduler"],
            "seeds": [r.get("seed") for r in group],
            "updates_to_target": Spread.of([None if r["updates_to_target"] is None else r["updates_to_target"].updates
                                            for r in group]),
            "warmup_peak_grad_norm": Spread.of([r["warmup_peak_grad_norm"] for r in group]),
            "runs_with_skipped_updates": sum(1 for r in group if r["skipped_updates"]),
        }
        for t in test_sets:
            entry[f"{t} WER"] = Spread.of([_err(r["scores"][t], "wer") if t in r["scores"] else None for r in group])
            entry[f"{t} CER"] = Spread.of([_err(r["scores"][t], "cer") if t in r["scores"] else None for r in group])
        out.append(entry)
    return out


def seed_table(groups: list[dict[str, Any]], test_sets: list[str], target: str) -> list[str]:
    head = ["policy", "scheduler", "seeds"] + [f"{t} WER" for t in test_sets] + [f"{t} CER" for t in test_sets]
    head += [f"updates to valid acc >= {target}", "warmup grad norm peak", "runs with skipped updates"]
    lines = ["## Across seeds", "", "|" + "|".join(head) + "|", "|" + "|".join("---" for _ in head) + "|"]
    for g in groups:
        seeds = ", ".join("?" if s is None else str(s) for s in g["seeds"])
        cells = [g["policy"], g["scheduler"], f"{len(g['runs'])} ({seeds})"]
        cells += [g[f"{t} WER"].cell() for t in test_sets] + [g[f"{t} CER"].cell() for t in test_sets]
        cells += [g["updates_to_target"].cell(0), g["warmup_peak_grad_norm"].cell(1),
                  f"{g['runs_with_skipped_updates']} of {len(g['runs'])}"]
        lines.append("|" + "|".join(cells) + "|")
    lines += [
        "",
        "- Each cell: mean \u00b1 sample standard deviation (n-1) [min\u2013max] over the policy's seed runs "
        "(`<exp>_seed<N>`, `asr.sh --seeds`); `(k of n)`: only k runs had a value (not reached, not scored). "
        "Seeds as recorded in each run's config.yaml. On this corpus one seed cannot order the policies: "
        "compare the spreads, not the means alone.",
        "",
    ]
    return lines


def build_report(exps: list[Path], out: Path, images_dir: Path, target_acc: float | None = None,
                 decode_dir: str | list[str] | None = None, lr_steps: int | None = None) -> dict[str, Any]:
    """Write the pictures and ``out``; return the numbers (for tests and callers)."""
    from espnet_warmup.recipe import owsm
    from espnet_warmup.recipe.analysis.plot_lr import plot_lr

    runs = [load_run(e) for e in exps]
    scores = {r.name: read_scores(r.path, decode_dir) for r in runs}
    test_sets = sorted({t for _, s in scores.values() for t in s})

    best_accs = [a for r in runs for a in r.series["valid_acc"][1] if math.isfinite(a)]
    if target_acc is None:
        target_acc = round(0.9 * max(best_accs), 4) if best_accs else None
        target_note = "90% of the best validation accuracy reached by any run"
    else:
        target_note = "--target_acc"

    images_dir.mkdir(parents=True, exist_ok=True)
    rel = os.path.relpath(images_dir, out.parent)
    curves_png = images_dir / "curves.png"
    plot_curves(runs, curves_png)
    lr_png = images_dir / "lr.png"
    configs = [r.path / "config.yaml" for r in runs if (r.path / "config.yaml").is_file()]
    if configs:
        steps = lr_steps or max(
            [r.iterations // r.accum_grad for r in runs] + [2 * (warmup_iterations(r) or 0) for r in runs] + [1]
        )
        plot_lr(configs, steps, lr_png, labels=[p.parent.name for p in configs])

    rows = []
    for r in runs:
        w_it = warmup_iterations(r)
        peak, med = metrics.grad_norm_stats(r.series["grad_norm"], until=w_it) if w_it else (math.nan, math.nan)
        row = summary_row(r)
        reached = (metrics.updates_to_accuracy(r.series["valid_acc"], target_acc, r.accum_grad)
                   if target_acc is not None else None)
        rows.append({
            "name": r.name,
            "model": model_label(r.config),
            "scheduler": scheduler_label(r.config),
            "peak_lr": (r.config.get("optim_conf") or {}).get("lr"),
            "warmup_updates": None if w_it is None else w_it // r.accum_grad,
            "decode_dir": scores[r.name][0],
            "scores": scores[r.name][1],
            "updates": row["updates"],
            "updates_to_target": reached,
            "warmup_peak_grad_norm": peak,
            "warmup_median_grad_norm": med,
            "spikes": row["spikes"],
            "clipped_percent": row["clipped %"],
            "skipped_updates": row["skipped updates"],
            "wall_seconds": row["wall time"],
            "best_valid_acc": row["best valid acc"],
            "has_valid_acc": any(math.isfinite(a) for a in r.series["valid_acc"][1]),
            "seed": r.config.get("seed"),
        })
    groups = aggregate(rows, test_sets)
    seeded = any(policy_of(r["name"])[1] is not None for r in rows)

    f = fmt
    lines = ["<!-- Generated by espnet-warmup report -->", "# RESULTS: warmup policies", ""]
    lines += [f"Experiments: {', '.join(f'`{e}`' for e in exps)}.", ""]
    lines += [*results_mod.format_environment(results_mod.environment()), ""]
    head = ["policy (exp dir)", "model", "scheduler", "peak LR", "warmup updates"]
    for t in test_sets:
        head += [f"{t} WER", f"{t} CER"]
    tgt = "-" if target_acc is None else f"{target_acc:.3f}"
    head += ["updates", f"updates to valid acc >= {tgt}", "warmup grad norm peak", "warmup grad norm median",
             "spikes", "clipped %", "skipped updates", "wall time"]
    lines += ["## Results across policies", "", "|" + "|".join(head) + "|", "|" + "|".join("---" for _ in head) + "|"]
    for row in rows:
        cells = [row["name"], row["model"], row["scheduler"], f(row["peak_lr"]), f(row["warmup_updates"])]
        for t in test_sets:
            s = row["scores"].get(t)
            cells += [_pct(_err(s, "wer")) if s else "-", _pct(_err(s, "cer")) if s else "-"]
        cells += [f(row["updates"]), _reach(row["updates_to_target"]) if row["has_valid_acc"] else "-",
                  f(row["warmup_peak_grad_norm"]), f(row["warmup_median_grad_norm"]), str(row["spikes"]),
                  f(row["clipped_percent"]), str(row["skipped_updates"]), fmt_seconds(row["wall_seconds"])]
        lines.append("|" + "|".join(cells) + "|")
    lines += [
        "",
        "- WER/CER in %, from `<exp>/<decode dir>/<test set>/scores.json`; decode dirs: "
        + ", ".join(f"{r['name']}: `{r['decode_dir'] or 'none found'}`" for r in rows) + ".",
        f"- Target validation accuracy {tgt} ({target_note}); updates = iterations / accum_grad at which the "
        "validation accuracy first reached it, linearly interpolated between the epoch-end validations around the "
        "crossing (\u2264 N: reached already at the first validation, after N updates); - : the run reports no "
        "validation accuracy (a transducer: ESPnet logs its validation loss, and CER/WER when it decodes).",
        "- Warmup grad norm: ESPnet's `grad_norm` (before clipping) per log interval, up to the scheduler's last "
        "warmup update; spikes: grad norm > 5 x the median of the previous 50 logged values (whole run); "
        "clipped %: updates with grad norm > grad_clip; skipped: non-finite updates ESPnet skipped.",
        "",
    ]
    if seeded:
        lines += seed_table(groups, test_sets, tgt)

    langs = sorted({k for row in rows for s in row["scores"].values() for k in s.get("wer", {}) if k != "all"})
    if langs:
        head = ["policy", "test set"] + [f"WER {lang}" for lang in langs] + [f"CER {lang}" for lang in langs]
        lines += ["## Per language", "", "|" + "|".join(head) + "|", "|" + "|".join("---" for _ in head) + "|"]
        for row in rows:
            for t, s in sorted(row["scores"].items()):
                cells = [row["name"], t] + [_pct(_err(s, "wer", lg)) for lg in langs]
                cells += [_pct(_err(s, "cer", lg)) for lg in langs]
                lines.append("|" + "|".join(cells) + "|")
        lines.append("")

    details = [e for e in exps if (e / "RESULTS.md").is_file()]
    if details:
        lines += ["## Per-experiment details", "",
                  "Scores per test set and language, the config and the exact command of each run:", ""]
        for e in details:
            link = os.path.relpath(e / "RESULTS.md", out.parent)
            lines.append(f"- `{e.name}`: [{link}]({link})")
        lines.append("")

    lines += ["## Pictures", ""]
    if configs:
        lines += [f"![LR schedules]({rel}/lr.png)", ""]
    lines += [f"![training curves]({rel}/curves.png)", ""]

    lines += ["## Comparison with upstream OWSM", ""]
    if test_sets:
        best = {}
        for t in test_sets:
            if seeded:  # the best policy by its mean over seeds, not the luckiest seed
                vals = [g[f"{t} WER"]["mean"] for g in groups]
            else:
                vals = [_err(row["scores"][t], "wer") for row in rows if t in row["scores"]]
            vals = [v for v in vals if v is not None]
            best[t] = min(vals) if vals else None
        label = "ours (best policy's mean over seeds, WER/CER %)" if seeded else "ours (best policy, WER/CER %)"
        lines.append(owsm.comparison_table(best, our_label=label))
    else:
        lines += ["No scored test sets (no `scores.json` under `<exp>/decode_*/`), so nothing to compare.", ""]

    atomic_write_text(out, "\n".join(lines).rstrip() + "\n")
    return {"rows": rows, "test_sets": test_sets, "target_acc": target_acc, "lr_png": lr_png if configs else None,
            "curves_png": curves_png, "seed_groups": groups if seeded else []}


# ----------------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("expdirs", nargs="*", help="experiment dirs (default: every training dir under --expdir)")
    parser.add_argument("--expdir", default="exp", help="where the experiment dirs are (default: exp)")
    parser.add_argument("--out", default="RESULTS.md", help="the markdown report (default: RESULTS.md)")
    parser.add_argument("--images_dir", default=None,
                        help="where lr.png and curves.png go (default: <out dir>/images)")
    parser.add_argument("--target_acc", type=float, default=None,
                        help="validation accuracy (0-1) for the 'updates to reach' column "
                             "(default: 0.9 x the best any run reached)")
    parser.add_argument("--decode_dir", default=None, action="append",
                        help="decode dir name inside each exp (default: the first decode_* with scores); "
                             "repeat it to give names in order of preference (each exp takes the first it has)")
    parser.add_argument("--lr_steps", type=int, default=None,
                        help="updates shown in lr.png (default: the longest run, at least 2 x warmup)")


def run(args: argparse.Namespace) -> int:
    if args.target_acc is not None and not 0 < args.target_acc <= 1:
        print(f"report: --target_acc must be in (0, 1] (ESPnet logs acc as a fraction), got {args.target_acc}",
              file=sys.stderr)
        return 2
    out = Path(args.out)
    images = Path(args.images_dir) if args.images_dir else out.parent / "images"
    try:
        exps = find_experiments(Path(args.expdir) if args.expdir else None, args.expdirs)
        result = build_report(exps, out, images, args.target_acc, args.decode_dir, args.lr_steps)
    except (ReportError, LogFormatError, ConfigError) as err:
        print(f"report: {err}", file=sys.stderr)
        return 1
    print(f"wrote {out} ({len(result['rows'])} experiments, test sets: {', '.join(result['test_sets']) or 'none'})")
    return 0
