"""ESPnet's ASR model with the sample-wise transducer loss: ``model: espnet_samplewise_transducer``.

ESPnet 202511's ``asr`` task (``espnet2/tasks/asr.py``) picks the model class from
``model_choices`` (a ``ClassChoices`` whose ``classes`` dict the parser reads when it is built,
``--model``, default ``espnet`` = ``ESPnetASRModel``). With ``decoder: transducer`` that model builds
ESPnet's ``JointNetwork`` and computes the loss in ``_calc_transducer_loss``
(``espnet2/asr/espnet_model.py:626``) as ``criterion_transducer(joint_network(enc.unsqueeze(2),
dec.unsqueeze(1)), ...)``: the full ``B x T x (U+1) x V`` joint, and ``criterion_transducer`` is
warp-transducer's ``RNNTLoss``, imported unconditionally in ``__init__`` (line 132), which a pip
install of ESPnet does not bring.

:class:`SampleWiseTransducerASRModel` is that model with one method replaced:
``_calc_transducer_loss`` runs ESPnet's own helpers (``get_transducer_task_io``, the prediction
network) and then :func:`espnet_warmup.transducer.transducer_loss` on the encoder and prediction
outputs, so the 4-D joint is never built for the batch. Everything else -- the encoder, the CTC
branch and its weighting (``loss = loss_transducer + ctc_weight * loss_ctc``), the stats, the error
calculator, the parameters and so the checkpoints, and decoding with ESPnet's
``BeamSearchTransducer`` (it calls ``joint_network`` frame by frame) -- is ESPnet's, unchanged.
The loss is warp-transducer's ``reduction="mean"`` (sum over the batch / B), as ESPnet's.

Construction: ``ESPnetASRModel.__init__`` imports ``warprnnt_pytorch`` for a transducer; when it is
not installed, a placeholder module is put in ``sys.modules`` for the duration of that call only
(and removed after); its criterion is never used. Extra ``model_conf`` keys:
``transducer_fastemit_lambda`` (default 0.0, ESPnet's own value) and
``transducer_max_group_elements`` (the loss's memory knob, default None). Multi-blank transducers
(``transducer_multi_blank_durations``) are refused.

Registration: :func:`register_model` adds the class to ``espnet2.tasks.asr.model_choices`` under
:data:`MODEL_NAME`; it must run before the task's parser is built, in training and in inference
(the experiment's config.yaml names the model). It is not yet called by
:func:`espnet_warmup.register`.
"""

from __future__ import annotations

import contextlib
import sys
import types

from espnet2.asr.espnet_model import ESPnetASRModel
from espnet2.asr_transducer.utils import get_transducer_task_io

from espnet_warmup.transducer.loss import _check_options, transducer_loss

MODEL_NAME = "espnet_samplewise_transducer"

__all__ = ["MODEL_NAME", "SampleWiseTransducerASRModel", "register_model"]


@contextlib.contextmanager
def _warprnnt_placeholder():
    """``import warprnnt_pytorch`` succeeds inside (a placeholder when it is not installed)."""
    if "warprnnt_pytorch" in sys.modules:
        yield
        return
    try:
        import warprnnt_pytorch  # noqa: F401  (the real one, if any)
    except ImportError:
        pass
    else:
        yield
        return
    placeholder = types.ModuleType("warprnnt_pytorch")
    placeholder.__doc__ = "espnet_warmup placeholder: the sample-wise loss replaces warp-transducer's."

    def RNNTLoss(*args, **kwargs):  # noqa: N802 (the name ESPnet imports)
        return None

    placeholder.RNNTLoss = RNNTLoss
    sys.modules["warprnnt_pytorch"] = placeholder
    try:
        yield
    finally:
        if sys.modules.get("warprnnt_pytorch") is placeholder:
            del sys.modules["warprnnt_pytorch"]


class SampleWiseTransducerASRModel(ESPnetASRModel):
    """``ESPnetASRModel`` (``decoder: transducer``) whose transducer loss is computed sample-wise."""

    def __init__(self, *args, transducer_fastemit_lambda: float = 0.0,
                 transducer_max_group_elements: int | None = None, **kwargs):
        if kwargs.get("joint_network") is None:
            raise ValueError(f"model: {MODEL_NAME} needs a transducer: decoder: transducer (which builds the "
                             f"joint network)")
        if kwargs.get("transducer_multi_blank_durations"):
            raise ValueError(f"model: {MODEL_NAME} does not support multi-blank transducers "
                             f"(model_conf.transducer_multi_blank_durations)")
        with _warprnnt_placeholder():
            super().__init__(*args, **kwargs)
        self.criterion_transducer = None
        self.transducer_options = dict(fastemit_lambda=transducer_fastemit_lambda,
                                       max_group_elements=transducer_max_group_elements)
        # the options are checked now, not at the first batch
        _check_options(self.blank_id, "mean", transducer_fastemit_lambda, -1.0, False,
                       transducer_max_group_elements, self.vocab_size)

    def _calc_transducer_loss(self, encoder_out, encoder_out_lens, labels):
        """(loss, cer, wer) as ESPnet's, the loss from the encoder and prediction outputs directly."""
        decoder_in, target, t_len, u_len = get_transducer_task_io(
            labels, encoder_out_lens, ignore_id=self.ignore_id, blank_id=self.blank_id)
        self.decoder.set_device(encoder_out.device)
        decoder_out = self.decoder(decoder_in)
        loss = transducer_loss(self.joint_network, encoder_out, decoder_out, target, t_len, u_len,
                               blank=self.blank_id, reduction="mean", **self.transducer_options)
        cer = wer = None
        if not self.training and self.error_calculator_trans is not None:
            cer, wer = self.error_calculator_trans(encoder_out, target)
        return loss, cer, wer


def register_model(choices=None):
    """Add :class:`SampleWiseTransducerASRModel` to ``choices`` (default: ESPnet's
    ``espnet2.tasks.asr.model_choices``) under :data:`MODEL_NAME`. Idempotent; refuses (ValueError) to
    replace a different class under that name. Returns ``choices``."""
    if choices is None:
        from espnet2.tasks.asr import model_choices as choices
    existing = choices.classes.get(MODEL_NAME)
    if existing is not None and existing is not SampleWiseTransducerASRModel:
        raise ValueError(f"cannot register model {MODEL_NAME!r}: it is already taken by "
                         f"{existing.__module__}.{existing.__qualname__}")
    choices.classes[MODEL_NAME] = SampleWiseTransducerASRModel
    return choices
