"""Check an ESPnet exp dir's model files before a training (re)starts; repair or quarantine.

Why: ESPnet's trainer saves, at the end of epoch N, ``checkpoint.pth`` (model, reporter,
optimizer, scheduler and scaler states) and then ``<N>epoch.pth`` (the same
``model.state_dict()`` that checkpoint.pth holds under "model"), both with a plain
``torch.save`` to the final name. A full disk or a kill during either save leaves a
truncated file, and nothing in ESPnet looks at it again: the resumed training (``--resume
true``) starts at epoch N+1, and model averaging loads the cut ``<N>epoch.pth`` and fails on
every rerun.

``check <exp dir>`` (asr.sh stage 11 runs it before every training start) loads
``checkpoint.pth`` and every ``*.pth`` of the exp dir (``<N>epoch.pth``, the averaged
models, the targets of the ``latest.pth`` / ``<phase>.<key>.best.pth`` links), then:

* ``<N>epoch.pth`` missing or not loading while checkpoint.pth loads and is at epoch N:
  rewritten from ``checkpoint["model"]`` (temp file, fsync, rename), the broken one kept in
  ``<exp>/quarantine/``; ``latest.pth`` and the best links ESPnet would have pointed at epoch N
  are set (ESPnet updates them after the epoch save that failed);
* any other file that does not load (or a link to nothing): moved to ``<exp>/quarantine/``
  (never deleted); the training re-creates averaged models and links;
* checkpoint.pth that does not load: moved to quarantine, and the check refuses (exit 1),
  naming the newest epoch model that loads: resuming needs checkpoint.pth, and a training
  started without it would overwrite the epoch models from scratch. Epoch models without a
  checkpoint.pth are refused the same way. A broken checkpoint.pth with no epoch model
  (cut during the first epoch's save) is quarantined and the training starts afresh.

Exit status: 0 when the training may start (after any repair), 1 when it must not, 2 on a
usage error. Every finding is one line on stderr: the file, why, what was done.
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CHECKPOINT = "checkpoint.pth"
QUARANTINE = "quarantine"
EPOCH_FILE = re.compile(r"^(\d+)epoch\.pth$")
CUT = "probably cut by a full disk or a kill during saving"


class NotLoadable(Exception):
    """A model file that torch cannot load, or that is not what ESPnet writes there."""


def _size_text(n: int) -> str:
    return f"{n} bytes"


def describe_load_error(path: Path, exc: BaseException) -> str:
    """Why ``path`` did not load, in words (the reason a user can act on)."""
    try:
        size = path.stat().st_size
    except OSError as e:
        return f"cannot be read ({e.strerror})"
    if size == 0:
        return f"empty (0 bytes): {CUT}"
    with open(path, "rb") as f:
        head = f.read(4)
    if head == b"PK\x03\x04":  # torch.save writes a zip archive
        if not zipfile.is_zipfile(path):
            return f"truncated ({_size_text(size)}; its zip archive has no end record): {CUT}"
        return f"damaged ({_size_text(size)}; {type(exc).__name__}: {exc})".replace("\n", " ")
    if head[:1] == b"\x80":  # a pickle (torch's legacy format)
        return f"damaged or truncated pickle ({_size_text(size)}; {type(exc).__name__}: {exc}): {CUT}".replace("\n", " ")
    return f"not a PyTorch file ({_size_text(size)}, starts with bytes {head.hex()}; {type(exc).__name__}: {exc})".replace("\n", " ")


def load(path: Path):
    """``torch.load`` of a model file on the CPU (memory-mapped: the check stays cheap for big
    models; a cut archive fails at the open). Tries ``weights_only`` first (ESPnet's files hold
    tensors and plain values); a file that only the full unpickler reads is loaded with it, as
    ESPnet's resume does (it is the user's own output). Raises NotLoadable with the reason."""
    import torch

    def _load(weights_only: bool):
        kw = {"mmap": True} if _is_zip(path) else {}
        return torch.load(path, map_location="cpu", weights_only=weights_only, **kw)

    try:
        try:
            return _load(True)
        except pickle.UnpicklingError as e:
            if "Weights only load failed" not in str(e) or "invalid load key" in str(e):
                raise
            return _load(False)
    except Exception as e:  # noqa: BLE001 - any failure to load is the finding
        raise NotLoadable(describe_load_error(path, e)) from e


def _is_zip(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"PK\x03\x04" and zipfile.is_zipfile(path)
    except OSError:
        return False


def load_state_dict(path: Path) -> Mapping:
    """A model file (``<N>epoch.pth``, an averaged model): a mapping of names to tensors."""
    import torch

    obj = load(path)
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise NotLoadable(f"loads but is not a model state dict (a {type(obj).__name__} of other values)")
    return obj


def load_checkpoint(path: Path) -> dict:
    """ESPnet's checkpoint.pth: a dict with model, reporter (with its epoch), optimizers, schedulers."""
    obj = load(path)
    missing = [k for k in ("model", "reporter", "optimizers", "schedulers") if not isinstance(obj, Mapping) or k not in obj]
    if missing:
        raise NotLoadable(f"loads but is not an ESPnet checkpoint (no {', '.join(missing)})")
    epoch = obj["reporter"].get("epoch") if isinstance(obj["reporter"], Mapping) else None
    if not isinstance(epoch, int):
        raise NotLoadable("loads but its reporter state has no epoch number")
    return obj


def checkpoint_epoch(ckpt: Mapping) -> int:
    return int(ckpt["reporter"]["epoch"])


@dataclass
class Report:
    exp: Path
    lines: list[str]
    ok: bool = True

    def say(self, text: str) -> None:
        self.lines.append(text)
        print(f"checkpoints: {text}", file=sys.stderr)

    def refuse(self, text: str) -> None:
        self.ok = False
        print(f"checkpoints: ERROR: {text}", file=sys.stderr)
        self.lines.append(f"ERROR: {text}")


def quarantine(exp: Path, path: Path) -> Path:
    """Move ``path`` (a file or a link) into ``<exp>/quarantine/`` under a free name; return it."""
    qdir = exp / QUARANTINE
    qdir.mkdir(exist_ok=True)
    dest = qdir / path.name
    i = 1
    while dest.exists() or dest.is_symlink():
        dest = qdir / f"{path.name}.{i}"
        i += 1
    os.rename(path, dest)
    return dest


def _relink(exp: Path, name: str, target: str) -> None:
    """Point the link ``<exp>/name`` at ``target`` (replaced atomically: a new link, renamed)."""
    tmp = exp / f".{name}.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, exp / name)


def _best_epochs(exp: Path, ckpt: Mapping) -> dict[str, int]:
    """``{"valid.loss.best.pth": epoch}`` for each best_model_criterion of <exp>/config.yaml, by
    ESPnet's own Reporter over the checkpoint's stats (the links ESPnet keeps)."""
    config = exp / "config.yaml"
    if not config.is_file():
        return {}
    import yaml
    from espnet2.train.reporter import Reporter

    try:
        criteria = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("best_model_criterion") or []
    except (yaml.YAMLError, UnicodeDecodeError):
        return {}
    reporter = Reporter()
    reporter.load_state_dict(ckpt["reporter"])
    best = {}
    for crit in criteria:
        if not (isinstance(crit, (list, tuple)) and len(crit) == 3):
            continue
        phase, key, mode = (str(c) for c in crit)
        if reporter.has(phase, key):
            best[f"{phase}.{key}.best.pth"] = reporter.get_best_epoch(phase, key, mode)
    return best


def write_state_dict(state: Mapping, path: Path) -> None:
    """``torch.save`` to a temp file beside ``path``, fsync, rename: never a half-written file."""
    import torch

    from espnet_warmup.recipe.atomic import atomic_output

    with atomic_output(path, "wb") as f:
        torch.save(state, f)


def _newest_loadable_epoch(exp: Path, epochs: dict[int, Path], broken: set[Path]) -> tuple[int, Path] | None:
    for n in sorted(epochs, reverse=True):
        if epochs[n] not in broken:
            return n, epochs[n]
    return None


def check(exp: Path) -> Report:
    """Check (and repair) the model files of ``exp``; the Report says what was found and done."""
    exp = Path(exp)
    report = Report(exp, [])
    if not exp.is_dir():
        return report  # a first training: nothing to check
    ckpt_path = exp / CHECKPOINT
    epochs = {int(m.group(1)): p for p in exp.iterdir()
              if (m := EPOCH_FILE.match(p.name)) and (p.is_file() or p.is_symlink())}
    broken: dict[Path, str] = {}

    ckpt = None
    if ckpt_path.is_file() or ckpt_path.is_symlink():
        try:
            ckpt = load_checkpoint(ckpt_path)
        except NotLoadable as e:
            broken[ckpt_path] = str(e)

    # Every other model file, links included (each real file is loaded once).
    links: dict[Path, Path] = {}
    for p in sorted(exp.iterdir()):
        if p.suffix != ".pth" or p.name == CHECKPOINT or p.name.startswith("."):
            continue
        if p.is_symlink():
            links[p] = p
            continue
        if p.is_file():
            try:
                load_state_dict(p)
            except NotLoadable as e:
                broken[p] = str(e)

    # checkpoint.pth that does not load: refuse (or, with no epoch model at all, start afresh).
    if ckpt_path in broken:
        why = broken.pop(ckpt_path)
        dest = quarantine(exp, ckpt_path)
        newest = _newest_loadable_epoch(exp, epochs, set(broken))
        if not epochs:
            report.say(f"{ckpt_path} is {why}; moved to {dest}. No epoch model exists yet, so the "
                       "training starts from scratch")
        else:
            hint = (f"the newest epoch model that loads is {newest[1]} (epoch {newest[0]})" if newest
                    else "no epoch model of it loads either")
            report.refuse(
                f"{ckpt_path} is {why}; moved to {dest} (not deleted). The training cannot resume without it "
                f"(it holds the optimizer, scheduler and reporter states), and starting afresh would overwrite "
                f"the epoch models of {exp}; {hint}. To go on: move {exp} away (or remove it) to train from "
                "scratch, or fine-tune from an epoch model in a new exp dir (e.g. --asr_tag ft "
                f"--train_args \"--init_param {newest[1] if newest else '<N>epoch.pth'}\")")
    elif ckpt is None and epochs:
        newest = _newest_loadable_epoch(exp, epochs, set(broken))
        report.refuse(
            f"{exp} has epoch models ({', '.join(p.name for _, p in sorted(epochs.items()))}) but no "
            f"{CHECKPOINT} (see {exp / QUARANTINE} if an earlier check moved it there): the training cannot "
            "resume, and starting afresh would overwrite those epoch models. To go on: move the exp dir away "
            "to train from scratch, or fine-tune from "
            f"{newest[1] if newest else 'an epoch model'} in a new exp dir (--init_param)")

    # The epoch of checkpoint.pth: its model file is repaired from checkpoint["model"] (the very
    # state dict ESPnet saves to <N>epoch.pth right after checkpoint.pth).
    if ckpt is not None:
        n = checkpoint_epoch(ckpt)
        target = exp / f"{n}epoch.pth"
        if n > 0 and (target in broken or not (target.is_file() or target.is_symlink())):
            what = broken.pop(target, None)
            moved = quarantine(exp, target) if what is not None else None
            try:
                write_state_dict(ckpt["model"], target)
            except OSError as e:
                report.refuse(f"{target} is {what or 'missing'}; rewriting it from {ckpt_path} failed: {e}"
                              + (f" (the broken file is in {moved})" if moved else "")
                              + ". Free space and rerun")
                return report
            done = f"rewritten from {ckpt_path} (epoch {n}'s model)"
            if what is not None:
                report.say(f"{target} is {what}; {done}; the broken file was moved to {moved}")
            else:
                report.say(f"{target} is missing although {ckpt_path} is at epoch {n} ({CUT}); {done}")
            epochs[n] = target
            _relink(exp, "latest.pth", target.name)
            for link, best in _best_epochs(exp, ckpt).items():
                if best == n:
                    _relink(exp, link, target.name)
                    links[exp / link] = exp / link

    # Any other file that does not load: quarantined, never deleted.
    for p, why in sorted(broken.items()):
        dest = quarantine(exp, p)
        m = EPOCH_FILE.match(p.name)
        extra = ""
        if m:
            extra = (f"; epoch {m.group(1)}'s model is lost (only the latest epoch can be rebuilt from "
                     f"{CHECKPOINT}): if it is among the n best epochs, model averaging will fail")
        else:
            extra = "; the training writes it again"
        report.say(f"{p} is {why}; moved to {dest}{extra}")

    # Links (latest.pth, *.best.pth, *.ave.pth, ave_1best) to nothing: quarantined.
    for link in sorted(links):
        if link.is_symlink() and not link.exists():
            dest = quarantine(exp, link)
            report.say(f"{link} is a link to {os.readlink(dest)}, which does not exist (or was moved to "
                       f"{exp / QUARANTINE}); moved to {dest}; the training sets it again")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m espnet_warmup.recipe.stages.checkpoints",
                                     description="Check (and repair) an ESPnet exp dir's model files.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="check an exp dir before a training (re)starts")
    p.add_argument("exp", type=Path)
    args = parser.parse_args(argv)
    report = check(args.exp)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
