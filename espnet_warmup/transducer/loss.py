"""A sample-wise, memory-efficient transducer (RNN-T) loss for ESPnet's ``JointNetwork``.

The batched way (ESPnet + warp-transducer, or torchaudio's ``rnnt_loss``) builds the joint
network's output for the whole padded batch, ``B x T x (U+1) x V`` logits, and the loss keeps a
gradient of the same size, plus the joint's ``B x T x (U+1) x J`` hidden activations that autograd
saves for backward. Following Braun, McDermott and Hsiao (arXiv 2211.16270), this loss computes the
joint, the loss and all its gradients one sample -- or one packed group of small samples -- at a
time, keeps only the gradients with respect to the joint's inputs and output-layer parameters, and
reuses one workspace for the next group, so no 4-D tensor larger than one group's ever exists::

    enc_proj = lin_enc(enc_out)   [B, T, J]     \\ batched, outside, ordinary autograd
    dec_proj = lin_dec(dec_out)   [B, U+1, J]   /
    for each group g (one sample, or several small ones padded to the group's own max T, U):
        h      = act(enc_proj[g, :, None] + dec_proj[g, None])   [G, T_g, U_g+1, J]  (workspace)
        logits = h @ W_out^T + b_out                             [G, T_g, U_g+1, V]  (workspace)
        loss_g, and in place: logits -> d loss_g / d logits -> d/dW_out, d/db_out, d/dh
        -> d/d enc_proj[g], d/d dec_proj[g] (accumulated); the workspace is reused by group g+1

One ``torch.autograd.Function`` does the loop in its forward and hands the stored gradients back in
its backward (scaled by the incoming gradient), so a single ``loss.backward()`` drives everything,
as ESPnet's trainer expects: ``accum_grad`` (the gradients add up over micro-batches), AMP's
``GradScaler`` (the scale arrives as the incoming gradient) and DDP (the joint's parameters get
their gradient once, through autograd, so the reducer's hooks fire once).

API
---
* :func:`transducer_loss` ``(joint_network, enc_out, dec_out, targets, enc_lens, target_lens, *,
  blank=0, reduction="mean", fastemit_lambda=0.0, clamp=-1.0, zero_infinity=False,
  max_group_elements=None, stats=None)`` -- ``joint_network`` is ESPnet's
  ``espnet2.asr_transducer.joint_network.JointNetwork`` (anything with ``lin_enc``, ``lin_dec``,
  ``lin_out`` linear layers and a ``joint_activation``). ``enc_out`` is ``[B, T, D_enc]`` (or
  ESPnet's ``enc_out.unsqueeze(2)``, ``[B, T, 1, D_enc]``), ``dec_out`` ``[B, U+1, D_dec]`` (or
  ``[B, 1, U+1, D_dec]``), ``targets`` ``[B, U]`` label ids (padding beyond ``target_lens`` is
  ignored, whatever its value), ``enc_lens`` / ``target_lens`` ``[B]`` integer tensors.
* :func:`sample_wise_rnnt_loss` ``(enc_proj, dec_proj, targets, enc_lens, target_lens, weight,
  bias=None, *, activation="tanh", ...)`` -- the same on the projections ``[B, T, J]``,
  ``[B, U+1, J]`` and the output layer's ``weight [V, J]`` / ``bias [V]``. ``activation``: ``"tanh"``,
  ``"relu"``, ``"identity"``, or a module / callable (``torch.nn.Tanh``, ``ReLU`` and ``Identity``
  modules take the fast paths; any other callable is recomputed chunk-wise under autograd for its
  derivative, which costs one more ``rows x J`` buffer).
* :class:`SampleWiseTransducerLoss` -- the options bound in a module:
  ``SampleWiseTransducerLoss(blank=0, ...)(joint_network, enc_out, dec_out, targets, enc_lens,
  target_lens)``.

Semantics
---------
* Loss of sample b: ``-log P(targets[b, :U_b] | enc[b, :T_b], dec[b, :U_b+1])`` over RNN-T
  alignments (a label moves up in U, a blank moves on in T, the path ends with a blank at frame
  ``T_b - 1``), identical to torchaudio's ``rnnt_loss`` with ``fused_log_softmax=True`` on the joint's
  raw logits (tests/test_transducer_loss.py checks loss and every gradient against it).
* ``reduction``: ``"mean"`` is the sum of the per-sample losses divided by the batch size B -- what
  ESPnet gets from warp-transducer's ``RNNTLoss(reduction="mean")`` (its code does
  ``costs.sum() / minibatch_size``; its docstring's "divided by the target lengths" is not what it
  computes) and what torchaudio's ``"mean"`` is (``costs.mean()``). No division by target or frame
  lengths. ``"sum"``: the sum. ``"none"``: the ``[B]`` vector; its backward must weigh every sample
  by its own incoming gradient, which the forward cannot know, so with ``"none"`` the forward
  computes only the losses and the backward recomputes the joint group by group (one more joint
  forward; same peak memory). Mean and sum return a 0-dim tensor.
* ``fastemit_lambda`` (FastEmit, Yu et al. 2021, as warp-transducer implements it and ESPnet passes
  it): the loss value is unchanged (``-log P``), and the gradient with respect to the label-emission
  log-probabilities is scaled by ``1 + lambda`` (blank emissions unchanged), then chained through the
  log-softmax exactly. Checked in the tests against an independent batched construction.
* ``clamp`` > 0 clamps every element of the gradient with respect to the logits to
  ``[-clamp, clamp]`` (torchaudio's ``clamp``; before any reduction scaling); <= 0: off.
* Frames and labels: an RNN-T emits any number of labels per frame, so any ``U_b`` fits in
  ``T_b >= 1`` frames; the only case where the labels cannot be emitted is ``T_b = 0`` (no frame for
  the final blank, whatever U_b): such a sample is refused with a ``ValueError`` naming it (torchaudio
  silently returns 0 for it), unless ``zero_infinity=True``, which drops it (loss 0, no gradient).
* Infinite loss: when a sample with ``T_b >= 1`` has no path of non-zero probability (a label whose
  logit is ``-inf`` everywhere, e.g. a masked token), its loss is reported as ``+inf`` (torchaudio's
  kernel gives NaN there) and its gradients are NaN -- the gradient of an infinite loss does not
  exist, and a NaN gradient norm makes ESPnet's trainer skip the update. With
  ``zero_infinity=True`` (as ``torch.nn.functional.ctc_loss``) such samples count 0 in the loss and
  nothing in the gradients; ``"mean"`` still divides by B. A sample whose inputs contain NaN gets a
  NaN loss (never turned into inf or 0).
* Precision / AMP: the joint and the loss are computed in float32 (autocast is switched off inside,
  inputs are up-cast), as ESPnet does (``joint_out.float()`` under ``autocast(False)``); the
  gradients are returned in the inputs' dtypes. ``enc_proj`` may be bf16/fp16 under autocast.
* No gradient wanted (``torch.no_grad()``, ``inference_mode``, or no input requires grad): only the
  losses are computed and nothing is stored.

Memory knob
-----------
``max_group_elements`` bounds the padded joint of one group, ``G x T_g x (U_g+1) x V`` elements.
Samples are taken largest first (by ``T_b (U_b+1)``) and packed greedily into a group while the
group, padded to its own largest T and U, stays within the budget; a sample larger than the budget
forms a group alone. Default ``None``: the budget is the largest sample's joint, so packing never
raises the peak above one largest sample and small samples share a call. ``1``: strictly one sample
per group. The workspace is sized once per call for the largest group: ``rows x (V + J)`` float32
(``rows = G T_g (U_g+1)``), plus ``rows x J`` for a generic activation, plus a chunk of ``8192 x J``
for the backward through the output layer and the lattice's ``rows x 2`` terms. Stored between
forward and backward: float32 gradients of enc_proj, dec_proj, W_out, b_out (``B T J + B (U+1) J +
V J + V``). ``stats`` (a dict, optional) receives the plan: ``groups``, ``group_sizes``,
``max_group_rows``, ``max_group_joint_elements``, ``workspace_bytes``, ``losses``, ``gradients_stored``
(mean/sum with a gradient wanted), ``recompute_in_backward`` ("none" with a gradient wanted).

How the loss is computed per group (exact, no approximation): the logits are reduced in place to
their softmax ``p`` (max, ``exp``, sum, one buffer), the blank and label log-probabilities are
gathered into a ``G x T_g x (U_g+1) x 2`` tensor and the RNN-T lattice (forward-backward) runs on it
with torchaudio's ``rnnt_loss(..., fused_log_softmax=False)`` on 2 classes, whose gradient is minus
the posterior occupancy of every blank/label transition. The gradient with respect to the logits is
then formed in the same buffer: ``p * (occ_blank + occ_label) - occ_blank [v = blank] - occ_label
[v = label]`` (the fused-log-softmax RNN-T gradient), so the logits' buffer is reused for their
gradient (Li et al. 2019's in-place reuse) and the ``T U V`` work runs in vectorised, multi-threaded
torch ops rather than in the per-element lattice kernel.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torchaudio.functional as _taf

REDUCTIONS = ("mean", "sum", "none")
ACTIVATIONS = ("tanh", "relu", "identity")
#: rows of ``d logits`` multiplied back through the output layer at a time (bounds that buffer)
GRAD_CHUNK_ROWS = 8192

__all__ = ["REDUCTIONS", "SampleWiseTransducerLoss", "sample_wise_rnnt_loss", "transducer_loss"]


@dataclasses.dataclass(frozen=True)
class _Options:
    blank: int
    reduction: str
    fastemit_lambda: float
    clamp: float
    zero_infinity: bool
    max_group_elements: int | None


def _activation_kind(activation: Any) -> tuple[str, Callable | None]:
    """(kind, callable) for ``activation``: a fast kind (tanh/relu/identity) or ("generic", fn)."""
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS} or a callable module, got {activation!r}")
        return activation, None
    kinds = {torch.nn.Tanh: "tanh", torch.nn.ReLU: "relu", torch.nn.Identity: "identity"}
    if type(activation) in kinds:  # exact types: a subclass may change forward()
        return kinds[type(activation)], None
    if callable(activation):
        return "generic", activation
    raise ValueError(f"activation must be one of {ACTIVATIONS} or a callable module, got {activation!r}")


def _check_options(blank: Any, reduction: Any, fastemit_lambda: Any, clamp: Any, zero_infinity: Any,
                   max_group_elements: Any, vocab: int) -> _Options:
    if isinstance(blank, bool) or not isinstance(blank, int) or not 0 <= blank < vocab:
        raise ValueError(f"blank must be an integer in [0, V={vocab}) (V: the output layer's size), got {blank!r}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if isinstance(fastemit_lambda, bool) or not isinstance(fastemit_lambda, (int, float)) \
            or not math.isfinite(fastemit_lambda) or fastemit_lambda < 0:
        raise ValueError(f"fastemit_lambda must be a finite number >= 0, got {fastemit_lambda!r}")
    if isinstance(clamp, bool) or not isinstance(clamp, (int, float)) or math.isnan(clamp):
        raise ValueError(f"clamp must be a number (> 0: clamp the logits' gradient; <= 0: off), got {clamp!r}")
    if not isinstance(zero_infinity, bool):
        raise ValueError(f"zero_infinity must be a bool, got {zero_infinity!r}")
    if max_group_elements is not None and (isinstance(max_group_elements, bool)
                                           or not isinstance(max_group_elements, int) or max_group_elements < 1):
        raise ValueError(f"max_group_elements must be None or an integer >= 1, got {max_group_elements!r}")
    return _Options(blank, reduction, float(fastemit_lambda), float(clamp), zero_infinity, max_group_elements)


def _as_lengths(name: str, lens: Any, batch: int, limit: int, limit_name: str) -> list[int]:
    if not isinstance(lens, torch.Tensor):
        lens = torch.as_tensor(lens)
    if lens.dtype.is_floating_point or lens.dtype.is_complex or lens.dtype == torch.bool:
        raise ValueError(f"{name} must be an integer tensor, got dtype {lens.dtype}")
    if lens.dim() != 1 or lens.shape[0] != batch:
        raise ValueError(f"{name} must have shape [B={batch}] (B: enc_proj.shape[0]), got {list(lens.shape)}")
    values = lens.tolist()
    for b, v in enumerate(values):
        if not 0 <= v <= limit:
            raise ValueError(f"{name}[{b}] = {v} is outside [0, {limit_name}={limit}]")
    return values


def _check_inputs(enc_proj, dec_proj, targets, enc_lens, target_lens, weight, bias, opts: _Options):
    """Validate the tensors; return (T_b list, U_b list). Raises ValueError naming the cause."""
    for name, t in (("enc_proj", enc_proj), ("dec_proj", dec_proj), ("weight", weight)):
        if not isinstance(t, torch.Tensor) or not t.dtype.is_floating_point:
            raise ValueError(f"{name} must be a floating-point tensor, got {type(t).__name__}"
                             + (f" of dtype {t.dtype}" if isinstance(t, torch.Tensor) else ""))
    if enc_proj.dim() != 3:
        raise ValueError(f"enc_proj must be [B, T, J], got shape {list(enc_proj.shape)}")
    if dec_proj.dim() != 3:
        raise ValueError(f"dec_proj must be [B, U+1, J], got shape {list(dec_proj.shape)}")
    if weight.dim() != 2:
        raise ValueError(f"weight (the output layer's) must be [V, J], got shape {list(weight.shape)}")
    batch, frames, joint = enc_proj.shape
    vocab = weight.shape[0]
    if batch == 0:
        raise ValueError("enc_proj has batch size 0: nothing to compute a loss of")
    if dec_proj.shape[0] != batch:
        raise ValueError(f"dec_proj has batch size {dec_proj.shape[0]}, enc_proj has {batch}")
    if dec_proj.shape[2] != joint or weight.shape[1] != joint:
        raise ValueError(f"joint dimension mismatch: enc_proj J={joint}, dec_proj J={dec_proj.shape[2]}, "
                         f"weight [V, J]={list(weight.shape)}")
    if bias is not None and (not isinstance(bias, torch.Tensor) or list(bias.shape) != [vocab]):
        raise ValueError(f"bias must be None or a tensor of shape [V={vocab}], got "
                         f"{list(bias.shape) if isinstance(bias, torch.Tensor) else type(bias).__name__}")
    if not isinstance(targets, torch.Tensor) or targets.dtype.is_floating_point or targets.dtype == torch.bool:
        raise ValueError("targets must be an integer tensor [B, U]")
    if targets.dim() != 2 or targets.shape[0] != batch:
        raise ValueError(f"targets must be [B={batch}, U], got shape {list(targets.shape)}")
    labels = targets.shape[1]
    if dec_proj.shape[1] != labels + 1:
        raise ValueError(f"dec_proj has {dec_proj.shape[1]} rows, but targets has U={labels} columns: "
                         f"dec_proj must be [B, U+1={labels + 1}, J]")
    devices = {t.device for t in (enc_proj, dec_proj, weight, targets) if t is not None}
    if bias is not None:
        devices.add(bias.device)
    if len(devices) > 1:
        raise ValueError(f"enc_proj, dec_proj, targets, weight and bias must be on one device, got {sorted(map(str, devices))}")
    t_lens = _as_lengths("enc_lens", enc_lens, batch, frames, "T (enc_proj.shape[1])")
    u_lens = _as_lengths("target_lens", target_lens, batch, labels, "U (targets.shape[1])")
    # the labels inside the lengths: real ids in [0, V), never the blank
    if labels > 0:
        valid = torch.arange(labels, device=targets.device)[None, :] < torch.as_tensor(u_lens, device=targets.device)[:, None]
        bad = valid & ((targets < 0) | (targets >= vocab) | (targets == opts.blank))
        if bad.any():
            b, u = (int(i) for i in bad.nonzero()[0].tolist())
            value = int(targets[b, u])
            why = "is the blank id" if value == opts.blank else f"is outside [0, V={vocab})"
            raise ValueError(f"targets[{b}, {u}] = {value} {why} (blank={opts.blank}; only the first "
                             f"target_lens[{b}]={u_lens[b]} labels of a row are read)")
    if not opts.zero_infinity:
        for b, (t, u) in enumerate(zip(t_lens, u_lens)):
            if t == 0:
                raise ValueError(
                    f"labels longer than the frames allow: sample {b} has enc_lens[{b}] = 0 frames for "
                    f"target_lens[{b}] = {u} labels; a transducer path needs at least one frame (for its "
                    f"final blank), so the loss is infinite. Drop the sample, or pass zero_infinity=True "
                    f"to count it as 0")
    return t_lens, u_lens


def _plan(t_lens: Sequence[int], u_lens: Sequence[int], vocab: int, budget: int | None) -> list[list[int]]:
    """Groups of sample indices, largest first, each padded joint within ``budget`` elements."""
    order = sorted((b for b in range(len(t_lens)) if t_lens[b] > 0),
                   key=lambda b: (t_lens[b] * (u_lens[b] + 1), t_lens[b], -b), reverse=True)
    if not order:
        return []
    if budget is None:
        first = order[0]
        budget = t_lens[first] * (u_lens[first] + 1) * vocab
    groups: list[list[int]] = []
    current: list[int] = []
    max_t = max_u1 = 0
    for b in order:
        new_t, new_u1 = max(max_t, t_lens[b]), max(max_u1, u_lens[b] + 1)
        if current and (len(current) + 1) * new_t * new_u1 * vocab > budget:
            groups.append(current)
            current, new_t, new_u1 = [], t_lens[b], u_lens[b] + 1
        current.append(b)
        max_t, max_u1 = new_t, new_u1
    groups.append(current)
    return groups


class _Lattice:
    """One call's state: fp32 inputs, the workspace, the gradient accumulators."""

    def __init__(self, enc_proj, dec_proj, targets, t_lens, u_lens, weight, bias, kind, act, opts: _Options,
                 groups, need=(False, False, False, False)):
        self.opts, self.kind, self.act = opts, kind, act
        self.enc, self.dec, self.targets = enc_proj, dec_proj, targets
        self.t_lens, self.u_lens, self.groups = t_lens, u_lens, groups
        self.device = enc_proj.device
        self.w32 = weight.detach().float()
        self.b32 = None if bias is None else bias.detach().float()
        self.vocab, self.joint = weight.shape
        self.params_nan = bool(self.w32.isnan().any()) or (self.b32 is not None and bool(self.b32.isnan().any()))
        self.need_enc, self.need_dec, self.need_w, self.need_b = need
        self.rows = max((len(g) * max(t_lens[b] for b in g) * (max(u_lens[b] for b in g) + 1) for g in groups),
                        default=0)
        f32 = dict(dtype=torch.float32, device=self.device)
        self.lbuf = torch.empty(self.rows * self.vocab, **f32)
        self.hbuf = torch.empty(self.rows * self.joint, **f32)
        self.pbuf = torch.empty(self.rows * self.joint, **f32) if kind == "generic" else None
        self.g_enc = torch.zeros(enc_proj.shape, **f32) if self.need_enc else None
        self.g_dec = torch.zeros(dec_proj.shape, **f32) if self.need_dec else None
        self.g_w = torch.zeros(self.vocab, self.joint, **f32) if self.need_w else None
        self.g_b = torch.zeros(self.vocab, **f32) if self.need_b else None

    @property
    def any_grad(self) -> bool:
        return self.need_enc or self.need_dec or self.need_w or self.need_b

    def workspace_bytes(self) -> int:
        per_row = self.vocab + self.joint * (2 if self.kind == "generic" else 1)
        return 4 * (self.rows * per_row + min(self.rows, GRAD_CHUNK_ROWS) * self.joint)

    def run(self, weights: torch.Tensor | None = None) -> torch.Tensor:
        """Per-sample losses [B] (float32); accumulates gradients if any are needed.

        ``weights`` [B]: each sample's gradient is multiplied by its weight (the backward of "none")."""
        losses = torch.zeros(len(self.t_lens), dtype=torch.float32, device=self.device)
        for group in self.groups:
            index = torch.tensor(group, device=self.device)
            losses[index] = self._group(group, index, None if weights is None else weights[index])
        return losses

    def _group(self, group: list[int], index: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
        opts, vocab, joint, dev = self.opts, self.vocab, self.joint, self.device
        n_g = len(group)
        t_g = max(self.t_lens[b] for b in group)
        u_g = max(self.u_lens[b] for b in group)
        t_len = torch.tensor([self.t_lens[b] for b in group], dtype=torch.int32, device=dev)
        u_len = torch.tensor([self.u_lens[b] for b in group], dtype=torch.int32, device=dev)
        rows = n_g * t_g * (u_g + 1)

        # the group's real inputs; padding rows zeroed (they may hold anything, NaN included)
        enc = self.enc[index, :t_g].float()
        dec = self.dec[index, :u_g + 1].float()
        t_mask = torch.arange(t_g, device=dev)[None, :] < t_len[:, None]
        u_mask = torch.arange(u_g + 1, device=dev)[None, :] <= u_len[:, None]
        if not bool(t_mask.all()):
            enc = enc * t_mask[..., None]
        if not bool(u_mask.all()):
            dec = dec * u_mask[..., None]

        # hidden h = act(enc + dec) in the workspace
        hidden = self.hbuf[:rows * joint].view(n_g, t_g, u_g + 1, joint)
        if self.kind == "generic":
            pre = self.pbuf[:rows * joint].view(n_g, t_g, u_g + 1, joint)
            torch.add(enc[:, :, None, :], dec[:, None, :, :], out=pre)
            hidden.copy_(self.act(pre))
        else:
            torch.add(enc[:, :, None, :], dec[:, None, :, :], out=hidden)
            if self.kind == "tanh":
                hidden.tanh_()
            elif self.kind == "relu":
                hidden.relu_()
        h2 = hidden.view(rows, joint)

        # logits, then in place their softmax p; the blank / label log-probs gathered first
        logits = self.lbuf[:rows * vocab].view(rows, vocab)
        if self.b32 is not None:
            torch.addmm(self.b32, h2, self.w32.t(), out=logits)
        else:
            torch.mm(h2, self.w32.t(), out=logits)
        label = torch.full((n_g, u_g + 1), opts.blank, dtype=torch.long, device=dev)
        if u_g > 0:
            real = self.targets[index, :u_g].long()
            label[:, :u_g] = torch.where(torch.arange(u_g, device=dev)[None, :] < u_len[:, None], real, opts.blank)
        label_rows = label[:, None, :].expand(n_g, t_g, u_g + 1).reshape(rows, 1)
        z_blank = logits[:, opts.blank].clone()
        z_label = logits.gather(1, label_rows).squeeze(1)
        top = logits.amax(1, keepdim=True)
        logits.sub_(top).exp_()
        total = logits.sum(1, keepdim=True)
        lse = (top + total.log()).squeeze(1)
        logp2 = torch.stack((z_blank - lse, z_label - lse), dim=-1).view(n_g, t_g, u_g + 1, 2)

        # the RNN-T lattice on 2 classes: loss, and minus the transitions' occupancies
        lattice_targets = torch.ones(n_g, u_g, dtype=torch.int32, device=dev)
        if self.any_grad:
            with torch.enable_grad():
                leaf = logp2.detach().requires_grad_()
                costs = _taf.rnnt_loss(leaf, lattice_targets, t_len, u_len, blank=0, reduction="none",
                                       fused_log_softmax=False)
                (g2,) = torch.autograd.grad(costs.sum(), leaf)
            costs = costs.detach()
        else:
            costs = _taf.rnnt_loss(logp2, lattice_targets, t_len, u_len, blank=0, reduction="none",
                                   fused_log_softmax=False)
            g2 = None

        bad = ~torch.isfinite(costs)
        if bool(bad.any()):
            nan_in = enc.isnan().flatten(1).any(1) | dec.isnan().flatten(1).any(1) | self.params_nan
            infinite = bad & ~nan_in
            fill = torch.full_like(costs, 0.0 if opts.zero_infinity else math.inf)
            costs = torch.where(infinite, fill, torch.where(bad, torch.full_like(costs, math.nan), costs))
            if g2 is not None:
                g_fill = 0.0 if opts.zero_infinity else math.nan
                g2 = torch.where(infinite[:, None, None, None], torch.full_like(g2, g_fill), g2)
        if g2 is None:
            return costs

        # d loss / d logits, in the logits' buffer: p * occ - occ_blank [blank] - occ_label [label]
        occ_blank = g2[..., 0].reshape(rows).neg()
        occ_label = g2[..., 1].reshape(rows).neg()
        if opts.fastemit_lambda:
            occ_label.mul_(1.0 + opts.fastemit_lambda)
        row_weight = None
        if weights is not None:
            row_weight = weights.float()[:, None].expand(n_g, t_g * (u_g + 1)).reshape(rows)
            if opts.clamp <= 0:  # fold the weights in (cheap); with clamp they come after it
                occ_blank.mul_(row_weight)
                occ_label.mul_(row_weight)
        grad = logits
        grad.div_(total).mul_((occ_blank + occ_label)[:, None])
        grad[:, opts.blank].sub_(occ_blank)
        grad.scatter_add_(1, label_rows, occ_label.neg()[:, None])
        if opts.clamp > 0:
            grad.clamp_(-opts.clamp, opts.clamp)
            if row_weight is not None:
                grad.mul_(row_weight[:, None])

        # the output layer's parameters, then back through it and the activation (in place in h)
        if self.need_b:
            self.g_b += grad.sum(0)
        if self.need_w:
            self.g_w.addmm_(grad.t(), h2)
        if self.need_enc or self.need_dec:
            self._backward_hidden(grad, h2, rows)
            g_pre = hidden
            if self.need_enc:
                self.g_enc[index, :t_g] = g_pre.sum(2)
            if self.need_dec:
                self.g_dec[index, :u_g + 1] = g_pre.sum(1)
        return costs

    def _backward_hidden(self, grad: torch.Tensor, h2: torch.Tensor, rows: int) -> None:
        """Overwrite ``h2`` with d loss / d (enc + dec), chunk by chunk."""
        if self.kind == "tanh":
            h2.mul_(h2).neg_().add_(1.0)  # tanh' = 1 - h^2
        elif self.kind == "relu":
            h2.gt_(0)  # relu' = [h > 0]
        for r0 in range(0, rows, GRAD_CHUNK_ROWS):
            r1 = min(rows, r0 + GRAD_CHUNK_ROWS)
            g_hidden = grad[r0:r1] @ self.w32
            if self.kind == "identity":
                h2[r0:r1].copy_(g_hidden)
            elif self.kind == "generic":
                pre = self.pbuf[:rows * self.joint].view(rows, self.joint)[r0:r1]
                with torch.enable_grad():
                    leaf = pre.detach().requires_grad_()
                    (g_pre,) = torch.autograd.grad(self.act(leaf), leaf, g_hidden)
                h2[r0:r1].copy_(g_pre)
            else:
                h2[r0:r1].mul_(g_hidden)


class _SampleWiseRNNT(torch.autograd.Function):
    """forward: the loop (and, for mean/sum, all gradients); backward: hands them back, scaled."""

    @staticmethod
    def forward(ctx, enc_proj, dec_proj, weight, bias, targets, t_lens, u_lens, kind, act, opts, groups, want,
                stats):
        need = tuple(bool(w) for w in want)
        with torch.autocast(enc_proj.device.type, enabled=False):
            one_pass = any(need) and opts.reduction != "none"
            lattice = _Lattice(enc_proj, dec_proj, targets, t_lens, u_lens, weight, bias, kind, act, opts, groups,
                               need if one_pass else (False,) * 4)
            losses = lattice.run()
        if stats is not None:
            stats.update(groups=len(groups), group_sizes=[len(g) for g in groups], max_group_rows=lattice.rows,
                         max_group_joint_elements=lattice.rows * lattice.vocab,
                         workspace_bytes=lattice.workspace_bytes(), losses=losses.detach().clone(),
                         gradients_stored=one_pass, recompute_in_backward=any(need) and not one_pass)
        del lattice.lbuf, lattice.hbuf, lattice.pbuf
        ctx.opts, ctx.batch, ctx.need = opts, len(t_lens), need
        ctx.dtypes = (enc_proj.dtype, dec_proj.dtype, weight.dtype, None if bias is None else bias.dtype)
        if one_pass:
            ctx.save_for_backward(lattice.g_enc, lattice.g_dec, lattice.g_w, lattice.g_b)
        elif any(need):  # "none": recompute in backward
            ctx.save_for_backward(enc_proj, dec_proj, weight, bias, targets)
            ctx.recompute = (t_lens, u_lens, kind, act, groups)
        if opts.reduction == "sum":
            return losses.sum()
        if opts.reduction == "mean":
            return losses.sum() / len(t_lens)
        return losses

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        opts, need = ctx.opts, ctx.need
        if opts.reduction == "none":
            enc_proj, dec_proj, weight, bias, targets = ctx.saved_tensors
            t_lens, u_lens, kind, act, groups = ctx.recompute
            with torch.autocast(enc_proj.device.type, enabled=False):
                lattice = _Lattice(enc_proj, dec_proj, targets, t_lens, u_lens, weight, bias, kind, act, opts,
                                   groups, need)
                lattice.run(weights=grad_output.detach())
            grads = (lattice.g_enc, lattice.g_dec, lattice.g_w, lattice.g_b)
        else:
            scale = grad_output.detach().float()
            if opts.reduction == "mean":
                scale = scale / ctx.batch
            grads = tuple(None if g is None else g * scale for g in ctx.saved_tensors)
        out = tuple(None if g is None or not n else g.to(dtype) for g, n, dtype in zip(grads, need, ctx.dtypes))
        return (*out, None, None, None, None, None, None, None, None, None)


def sample_wise_rnnt_loss(enc_proj: torch.Tensor, dec_proj: torch.Tensor, targets: torch.Tensor,
                          enc_lens: torch.Tensor, target_lens: torch.Tensor, weight: torch.Tensor,
                          bias: torch.Tensor | None = None, *, activation: Any = "tanh", blank: int = 0,
                          reduction: str = "mean", fastemit_lambda: float = 0.0, clamp: float = -1.0,
                          zero_infinity: bool = False, max_group_elements: int | None = None,
                          stats: dict | None = None) -> torch.Tensor:
    """RNN-T loss of ``logits = weight @ act(enc_proj[:, :, None] + dec_proj[:, None]) + bias``, computed
    sample-wise (see the module docstring for every option). Returns a 0-dim tensor (mean, sum) or [B]."""
    if not isinstance(weight, torch.Tensor) or weight.dim() != 2:
        raise ValueError(f"weight (the output layer's) must be a [V, J] tensor, got "
                         f"{list(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__}")
    opts = _check_options(blank, reduction, fastemit_lambda, clamp, zero_infinity, max_group_elements,
                          weight.shape[0])
    kind, act = _activation_kind(activation)
    t_lens, u_lens = _check_inputs(enc_proj, dec_proj, targets, enc_lens, target_lens, weight, bias, opts)
    groups = _plan(t_lens, u_lens, weight.shape[0], opts.max_group_elements)
    grad_on = torch.is_grad_enabled()
    want = tuple(grad_on and t is not None and t.requires_grad for t in (enc_proj, dec_proj, weight, bias))
    return _SampleWiseRNNT.apply(enc_proj, dec_proj, weight, bias, targets, t_lens, u_lens, kind, act, opts,
                                 groups, want, stats)


def transducer_loss(joint_network: torch.nn.Module, enc_out: torch.Tensor, dec_out: torch.Tensor,
                    targets: torch.Tensor, enc_lens: torch.Tensor, target_lens: torch.Tensor, *, blank: int = 0,
                    reduction: str = "mean", fastemit_lambda: float = 0.0, clamp: float = -1.0,
                    zero_infinity: bool = False, max_group_elements: int | None = None,
                    stats: dict | None = None) -> torch.Tensor:
    """The sample-wise RNN-T loss of ESPnet's ``JointNetwork`` on ``enc_out`` [B, T, D_enc] and
    ``dec_out`` [B, U+1, D_dec] (ESPnet's unsqueezed [B, T, 1, D] / [B, 1, U+1, D] also accepted).

    ``lin_enc`` and ``lin_dec`` run batched here (ordinary autograd, so their parameters get their
    gradients from the same backward); the rest is :func:`sample_wise_rnnt_loss`."""
    for attr in ("lin_enc", "lin_dec", "lin_out", "joint_activation"):
        if not hasattr(joint_network, attr):
            raise ValueError(f"joint_network must be ESPnet's JointNetwork (lin_enc, lin_dec, lin_out, "
                             f"joint_activation); it has no {attr!r}")
    if not isinstance(joint_network.lin_out, torch.nn.Linear):
        raise ValueError(f"joint_network.lin_out must be a torch.nn.Linear, got {type(joint_network.lin_out).__name__}")
    if isinstance(enc_out, torch.Tensor) and enc_out.dim() == 4:
        if enc_out.shape[2] != 1:
            raise ValueError(f"enc_out must be [B, T, D] or [B, T, 1, D], got shape {list(enc_out.shape)}")
        enc_out = enc_out.squeeze(2)
    if isinstance(dec_out, torch.Tensor) and dec_out.dim() == 4:
        if dec_out.shape[1] != 1:
            raise ValueError(f"dec_out must be [B, U+1, D] or [B, 1, U+1, D], got shape {list(dec_out.shape)}")
        dec_out = dec_out.squeeze(1)
    for name, t in (("enc_out", enc_out), ("dec_out", dec_out)):
        if not isinstance(t, torch.Tensor) or t.dim() != 3:
            raise ValueError(f"{name} must be a 3-D tensor, got "
                             f"{list(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__}")
    return sample_wise_rnnt_loss(
        joint_network.lin_enc(enc_out), joint_network.lin_dec(dec_out), targets, enc_lens, target_lens,
        joint_network.lin_out.weight, joint_network.lin_out.bias, activation=joint_network.joint_activation,
        blank=blank, reduction=reduction, fastemit_lambda=fastemit_lambda, clamp=clamp,
        zero_infinity=zero_infinity, max_group_elements=max_group_elements, stats=stats)


class SampleWiseTransducerLoss(torch.nn.Module):
    """:func:`transducer_loss` with its options bound: ``loss(joint_network, enc_out, dec_out, targets,
    enc_lens, target_lens)``. Options are checked here, except ``blank`` (its range needs V)."""

    def __init__(self, blank: int = 0, reduction: str = "mean", fastemit_lambda: float = 0.0, clamp: float = -1.0,
                 zero_infinity: bool = False, max_group_elements: int | None = None):
        super().__init__()
        if isinstance(blank, bool) or not isinstance(blank, int) or blank < 0:
            raise ValueError(f"blank must be an integer >= 0 (and < V, checked per call), got {blank!r}")
        _check_options(blank, reduction, fastemit_lambda, clamp, zero_infinity, max_group_elements, vocab=blank + 1)
        self.options = dict(blank=blank, reduction=reduction, fastemit_lambda=fastemit_lambda, clamp=clamp,
                            zero_infinity=zero_infinity, max_group_elements=max_group_elements)

    def forward(self, joint_network, enc_out, dec_out, targets, enc_lens, target_lens, stats=None):
        return transducer_loss(joint_network, enc_out, dec_out, targets, enc_lens, target_lens, stats=stats,
                               **self.options)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.options.items())
