"""Transducer (RNN-T) training support: a sample-wise, memory-efficient transducer loss.

:func:`transducer_loss` takes ESPnet's ``JointNetwork`` (``espnet2/asr_transducer/joint_network.py``)
and the encoder / prediction-network outputs, and computes the RNN-T loss and its gradients one
sample (or one packed group of small samples) at a time, so the 4-D ``B x T x (U+1) x V`` joint
tensor of the whole batch never exists; :func:`sample_wise_rnnt_loss` is the same on the joint's
projections and output layer directly. See :mod:`espnet_warmup.transducer.loss`.

Importing this subpackage imports torch and torchaudio (the lattice kernel), nothing of espnet2.
"""

from __future__ import annotations

from espnet_warmup.transducer.loss import (
    SampleWiseTransducerLoss,
    sample_wise_rnnt_loss,
    transducer_loss,
)

__all__ = ["SampleWiseTransducerLoss", "sample_wise_rnnt_loss", "transducer_loss"]
