"""Stage 10: which training configs can share one set of collect-stats outputs.

Collect-stats (``asr_train --collect_stats true``) runs the config's frontend over the data
to get the feature mean/variance (``feats_stats.npz``) and the shapes. Those depend only on
the keys below, not on the optimizer, the scheduler or the model; so the four warmup
policies of a run share one stats dir. This module prints a fingerprint of those keys and
refuses a set of configs that disagree on them (their statistics would differ).

Command line::

    python -m espnet_warmup.recipe.stages.stats_key [--train_args="..."] conf/train_linear_warmup.yaml conf/train_exp_warmup.yaml
"""

from __future__ import annotations

import hashlib
import json
import sys

from espnet_warmup.espnet_config import ConfigError, load_config
from espnet_warmup.options import KaldiArgumentParser

#: Config keys that change what collect-stats computes.
STATS_KEYS = ("frontend", "frontend_conf", "preprocessor", "preprocessor_conf", "input_size", "speech_volume_normalize")


def stats_fingerprint(config: dict, train_args: str = "") -> str:
    """A short hash of the stats-relevant part of a training config and of ``--train_args``.

    Only the options among ``train_args`` that name a stats key count (e.g.
    ``--frontend_conf n_mels=40``), so that ``--train_args "--max_epoch 1"`` keeps the stats.
    """
    part = {k: config.get(k) for k in STATS_KEYS}
    words = train_args.split()
    part["train_args"] = [f"{w} {words[i + 1] if i + 1 < len(words) else ''}" for i, w in enumerate(words)
                          if w.startswith("--") and w[2:].replace("-", "_").startswith(STATS_KEYS)]
    return hashlib.md5(json.dumps(part, sort_keys=True, default=str).encode()).hexdigest()[:12]


def load_stats_config(path: str) -> dict:
    """The training config ``path`` (:func:`espnet_warmup.espnet_config.load_config`), refused when it
    has a ``normalize`` key: ESPnet cannot collect stats with a normalize layer that needs those stats."""
    cfg = load_config(path)
    if "normalize" in cfg:
        raise ConfigError(f"{path}: remove the 'normalize' key; the engine adds --normalize global_mvn "
                          "with the stage-10 statistics at training time (--feats_normalize)")
    return cfg


def build_parser() -> KaldiArgumentParser:
    p = KaldiArgumentParser(prog="python -m espnet_warmup.recipe.stages.stats_key", description=__doc__.splitlines()[0])
    # --train_args=VALUE: the value starts with "--", which argparse would take for an option.
    p.add_option("train_args", "", "the engine's --train_args (only options naming a stats key count); "
                 "give it as --train_args=VALUE")
    p.add_argument("configs", nargs="+", metavar="config.yaml", help="the training configs of one run")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        prints = {p: stats_fingerprint(load_stats_config(p), args.train_args) for p in args.configs}
    except ConfigError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    if len(set(prints.values())) > 1:
        print("ERROR: these configs differ in " + ", ".join(STATS_KEYS) + " and cannot share collect-stats "
              "outputs; run them in separate runs (or with different --expdir): "
              + ", ".join(f"{p} ({h})" for p, h in prints.items()), file=sys.stderr)
        return 1
    print(next(iter(prints.values())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
