"""Stages 10-14: which kind of model each training config trains, so the engine decodes it right.

ESPnet's ``asr`` task trains an attention/CTC model or, with ``decoder: transducer``, a transducer
(``espnet2.bin.asr_inference`` then decodes with ESPnet's ``BeamSearchTransducer``). The two need
different decoding options (``ctc_weight``/``penalty`` vs ``transducer_conf``) and, since a
transducer reports no validation accuracy, a different model file (``valid.loss.ave.pth`` instead
of ``valid.acc.ave.pth``). One run of the recipe may train both kinds, so asr.sh asks this module,
once per run, and picks the decoding config, model file and decode dir per experiment
(``--transducer_inference_config``, ``--transducer_inference_asr_model``).

It also refuses, before any stage runs, the two transducer set-ups that ESPnet would only refuse
once stage 10 builds the model:

* ``model: espnet_samplewise_transducer`` (our sample-wise RNN-T loss) without ``decoder:
  transducer`` (it trains the transducer's joint network; there is none);
* ``decoder: transducer`` with ESPnet's own model (``model: espnet``, the default) where
  warp-transducer (``warprnnt_pytorch``, which that model imports for its loss) is not installed.

Command line (one kind per config, in order, on stdout: ``transducer`` or ``attention``)::

    python -m espnet_warmup.recipe.stages.model_kind [--train_args="..."] conf/train_transducer_exp_warmup.yaml ...
"""

from __future__ import annotations

import importlib.util
import sys

from espnet_warmup.espnet_config import ConfigError, load_config
from espnet_warmup.lazy_registration import MODEL_NAME
from espnet_warmup.options import KaldiArgumentParser

TRANSDUCER = "transducer"
ATTENTION = "attention"


def _override(train_args: str, key: str):
    """The value ``--train_args`` gives ``--<key>`` (ESPnet: the command line beats the config), else None."""
    words = train_args.split()
    value = None
    for i, word in enumerate(words):
        name, eq, rest = word.partition("=")
        if not name.startswith("--") or name[2:].replace("-", "_") != key:
            continue
        if eq:
            value = rest
        elif i + 1 < len(words):
            value = words[i + 1]
    return value


def model_kind(config: dict, train_args: str = "", path: str = "config") -> str:
    """``transducer`` or ``attention`` for one training config; ConfigError for a set-up that cannot train."""
    decoder = _override(train_args, "decoder") or config.get("decoder")
    model = _override(train_args, "model") or config.get("model") or "espnet"
    decoder = None if decoder in (None, "none", "None") else str(decoder)
    if model == MODEL_NAME and decoder != TRANSDUCER:
        raise ConfigError(f"{path}: model: {MODEL_NAME} (the sample-wise RNN-T loss) needs decoder: transducer, "
                          f"got decoder: {decoder}; use decoder: transducer (with decoder_conf and joint_net_conf), "
                          f"or another model for an attention/CTC decoder")
    if decoder == TRANSDUCER and model == "espnet" and importlib.util.find_spec("warprnnt_pytorch") is None:
        raise ConfigError(f"{path}: decoder: transducer with model: espnet needs warp-transducer (warprnnt_pytorch), "
                          f"which is not installed; use model: {MODEL_NAME} (espnet_warmup's sample-wise RNN-T "
                          f"loss, no warp-transducer needed)")
    return TRANSDUCER if decoder == TRANSDUCER else ATTENTION


def build_parser() -> KaldiArgumentParser:
    p = KaldiArgumentParser(prog="python -m espnet_warmup.recipe.stages.model_kind",
                            description=__doc__.splitlines()[0])
    p.add_option("train_args", "", "the engine's --train_args (--decoder / --model there win over the config); "
                 "give it as --train_args=VALUE")
    p.add_argument("configs", nargs="+", metavar="config.yaml", help="the training configs of one run")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    kinds, errors = [], []
    for path in args.configs:
        try:
            kinds.append(model_kind(load_config(path), args.train_args, path))
        except ConfigError as err:
            errors.append(str(err))
    for err in errors:
        print(f"ERROR: {err}", file=sys.stderr)
    if errors:
        return 1
    print("\n".join(kinds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
