"""The sample-wise transducer loss (espnet_warmup.transducer) against torchaudio's batched rnnt_loss.

The reference is always the batched computation on the full padded joint
``lin_out(act(lin_enc(enc)[:, :, None] + lin_dec(dec)[:, None]))`` ([B, T, U+1, V]) with
``torchaudio.functional.rnnt_loss(fused_log_softmax=True)`` and ordinary autograd; the sample-wise
loss must give the same loss and the same gradients (encoder side, predictor side, every joint
parameter) within 1e-5 relative (max abs difference / max abs reference) in float32. Sizes are tiny:
the file runs in seconds.
"""

from __future__ import annotations

import math

import pytest
import torch
import torchaudio.functional as taf
from espnet2.asr_transducer.joint_network import JointNetwork

from espnet_warmup.transducer import SampleWiseTransducerLoss, sample_wise_rnnt_loss, transducer_loss

RTOL = 1e-5


def close(got: torch.Tensor, ref: torch.Tensor, rtol: float = RTOL) -> bool:
    """Max abs difference within rtol x max abs reference (and exactly equal non-finite entries)."""
    if got.shape != ref.shape:
        return False
    finite = torch.isfinite(ref)
    if not torch.equal(finite, torch.isfinite(got)):
        return False
    if not finite.all():
        return close(got[finite], ref[finite], rtol) if finite.any() else True
    scale = ref.abs().max().item()
    return (got - ref).abs().max().item() <= rtol * max(scale, 1e-12)


def make_case(seed, batch=5, frames=9, labels=5, vocab=11, dim=6, joint=7, t_lens=None, u_lens=None,
              activation="tanh"):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = JointNetwork(vocab, dim, dim, joint_space_size=joint, joint_activation_type=activation)
    enc = torch.randn(batch, frames, dim, generator=g, requires_grad=True)
    dec = torch.randn(batch, labels + 1, dim, generator=g, requires_grad=True)
    if t_lens is None:
        t_lens = torch.randint(1, frames + 1, (batch,), generator=g)
        t_lens[0] = frames
    if u_lens is None:
        u_lens = torch.randint(0, labels + 1, (batch,), generator=g)
        u_lens[0] = labels
    t_lens, u_lens = torch.as_tensor(t_lens), torch.as_tensor(u_lens)
    targets = torch.randint(1, vocab, (batch, labels), generator=g)
    targets[torch.arange(labels)[None, :] >= u_lens[:, None]] = 0  # ESPnet pads targets with the blank
    return net, enc, dec, targets, t_lens, u_lens


def batched_reference(net, enc, dec, targets, t_lens, u_lens, reduction="mean", clamp=-1.0):
    """torchaudio on the full padded joint (its padded T and U must equal max(t_lens), max(u_lens):
    trimmed to them)."""
    t_max, u_max = int(t_lens.max()), int(u_lens.max())
    logits = net(enc[:, :t_max].unsqueeze(2), dec[:, :u_max + 1].unsqueeze(1))
    return taf.rnnt_loss(logits, targets[:, :u_max].int(), t_lens.int(), u_lens.int(), blank=0, clamp=clamp,
                         reduction=reduction)


def grads_of(loss, tensors, reduction):
    total = loss.sum() if reduction == "none" else loss
    return torch.autograd.grad(total, tensors, allow_unused=True)


def inputs(net, enc, dec):
    return [enc, dec, *net.parameters()]


def assert_same(case, reduction="mean", **options):
    net, enc, dec, targets, t_lens, u_lens = case
    got = transducer_loss(net, enc, dec, targets, t_lens, u_lens, reduction=reduction, **options)
    ref = batched_reference(net, enc, dec, targets, t_lens, u_lens, reduction=reduction,
                            clamp=options.get("clamp", -1.0))
    assert close(got.detach(), ref.detach()), (got, ref)
    names = ["enc_out", "dec_out"] + [n for n, _ in net.named_parameters()]
    for name, a, b in zip(names, grads_of(got, inputs(net, enc, dec), reduction),
                          grads_of(ref, inputs(net, enc, dec), reduction)):
        assert close(a, b), f"gradient of {name}: max diff {(a - b).abs().max().item()}"
    return got


# ---------------------------------------------------------------------------------------- equality


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_torchaudio_batched(seed, reduction):
    assert_same(make_case(seed), reduction)


def test_edge_lengths_t1_u0_and_full():
    # T_b = 1 (all labels at one frame), U_b = 0 (blank only), T_b = 1 and U_b = 0 together, full
    case = make_case(3, batch=5, frames=6, labels=4, t_lens=[6, 1, 4, 1, 6], u_lens=[4, 3, 0, 0, 4])
    for reduction in ("mean", "none"):
        assert_same(case, reduction)


def test_batch_of_one_and_all_blank_batch():
    assert_same(make_case(4, batch=1, frames=5, labels=3))
    assert_same(make_case(5, batch=3, frames=5, labels=2, t_lens=[5, 2, 3], u_lens=[0, 0, 0]))


def test_matches_a_float64_lattice():
    """Both the sample-wise and the batched losses are the RNN-T sum over alignments (checked on
    one tiny sample against an explicit float64 recursion over the (t, u) grid)."""
    net, enc, dec, targets, t_lens, u_lens = make_case(6, batch=1, frames=4, labels=3, t_lens=[4], u_lens=[3])
    logp = net(enc.unsqueeze(2), dec.unsqueeze(1)).double().log_softmax(-1)[0]
    alpha = torch.full((4, 4), -math.inf, dtype=torch.float64)
    alpha[0, 0] = 0.0
    for t in range(4):
        for u in range(4):
            terms = [alpha[t, u]] if (t, u) == (0, 0) else []
            if t > 0:
                terms.append(alpha[t - 1, u] + logp[t - 1, u, 0])
            if u > 0:
                terms.append(alpha[t, u - 1] + logp[t, u - 1, targets[0, u - 1]])
            alpha[t, u] = torch.logsumexp(torch.stack(terms), 0)
    exact = -(alpha[3, 3] + logp[3, 3, 0]).item()
    got = transducer_loss(net, enc, dec, targets, t_lens, u_lens).item()
    assert abs(got - exact) <= 1e-5 * abs(exact)


@pytest.mark.parametrize("budget", [1, None, 10**9])
def test_grouping_does_not_change_results(budget):
    """One sample per group, the default packing, and the whole batch in one padded group."""
    case = make_case(7, batch=6)
    stats: dict = {}
    net, enc, dec, targets, t_lens, u_lens = case
    transducer_loss(net, enc, dec, targets, t_lens, u_lens, max_group_elements=budget, stats=stats)
    if budget == 1:
        assert stats["group_sizes"] == [1] * 6
    if budget == 10**9:
        assert stats["group_sizes"] == [6]
    assert_same(case, "sum", max_group_elements=budget)


@pytest.mark.parametrize("activation", ["relu", "swish", "identity"])
def test_other_activations(activation):
    """ReLU and identity take fast paths; ESPnet's Swish goes through the generic (autograd) path."""
    assert_same(make_case(8, activation=activation), "mean")


def test_clamp_matches_torchaudio():
    assert_same(make_case(9), "sum", clamp=0.05)
    assert_same(make_case(9), "none", clamp=0.05)


def test_espnet_shapes_and_padding_values_are_accepted():
    """ESPnet calls the joint with enc_out.unsqueeze(2) / dec_out.unsqueeze(1); padded target
    positions may hold anything (here -1, ESPnet's ignore_id)."""
    net, enc, dec, targets, t_lens, u_lens = make_case(10)
    ref = transducer_loss(net, enc, dec, targets, t_lens, u_lens)
    padded = targets.clone()
    padded[torch.arange(targets.shape[1])[None, :] >= u_lens[:, None]] = -1
    got = transducer_loss(net, enc.unsqueeze(2), dec.unsqueeze(1), padded, t_lens, u_lens)
    assert torch.equal(got, ref)


def test_module_form():
    net, enc, dec, targets, t_lens, u_lens = case = make_case(11)
    loss = SampleWiseTransducerLoss(blank=0, reduction="sum")
    assert torch.equal(loss(net, enc, dec, targets, t_lens, u_lens),
                       transducer_loss(net, enc, dec, targets, t_lens, u_lens, reduction="sum"))
    assert "reduction='sum'" in repr(loss)
    assert_same(case, "sum")


def test_blank_other_than_zero():
    net, enc, dec, targets, t_lens, u_lens = make_case(12, vocab=9)
    blank = 8
    targets = torch.where(targets == blank, torch.ones_like(targets), targets)
    got = transducer_loss(net, enc, dec, targets, t_lens, u_lens, blank=blank, reduction="sum")
    logits = net(enc[:, :int(t_lens.max())].unsqueeze(2), dec.unsqueeze(1))
    ref = taf.rnnt_loss(logits, targets.int(), t_lens.int(), u_lens.int(), blank=blank, reduction="sum")
    assert close(got.detach(), ref.detach())
    for a, b in zip(grads_of(got, inputs(net, enc, dec), "sum"), grads_of(ref, inputs(net, enc, dec), "sum")):
        assert close(a, b)


# -------------------------------------------------------------------------- training-loop behaviour


def test_accum_grad_two_micro_batches_equal_the_batch():
    """ESPnet's accum_grad: each micro-batch's mean loss / accum_grad, backward() each; the
    accumulated parameter gradients equal those of the whole batch's mean loss (batched torchaudio)."""
    net, enc, dec, targets, t_lens, u_lens = make_case(13, batch=6)
    encoder = torch.nn.Linear(enc.shape[-1], enc.shape[-1])  # stands for the encoder's last layer
    params = [*encoder.parameters(), *net.parameters()]
    x = enc.detach()
    for half in (slice(0, 3), slice(3, 6)):
        loss = transducer_loss(net, encoder(x[half]), dec.detach()[half], targets[half], t_lens[half], u_lens[half])
        (loss / 2).backward()
    accumulated = [p.grad.clone() for p in params]
    t_max = int(t_lens.max())
    logits = net(encoder(x[:, :t_max]).unsqueeze(2), dec.detach().unsqueeze(1))
    ref = taf.rnnt_loss(logits, targets.int(), t_lens.int(), u_lens.int(), blank=0, reduction="mean")
    for a, b in zip(accumulated, torch.autograd.grad(ref, params)):
        assert close(a, b)


def test_grad_output_scaling_like_amp_grad_scaler():
    """GradScaler multiplies the loss: the stored gradients come back scaled by the incoming gradient."""
    net, enc, dec, targets, t_lens, u_lens = make_case(14)
    loss = transducer_loss(net, enc, dec, targets, t_lens, u_lens)
    g1 = torch.autograd.grad(loss, [enc, net.lin_out.weight], retain_graph=True)
    g2 = torch.autograd.grad(loss * 1024.0, [enc, net.lin_out.weight])
    for a, b in zip(g1, g2):
        assert close(b, a * 1024.0)


def test_reduced_precision_inputs_are_computed_in_float32():
    """bf16 projections (as under autocast) give the float32 loss of the same values; the gradients
    come back in bf16; calling under torch.autocast changes nothing (autocast is off inside)."""
    net, enc, dec, targets, t_lens, u_lens = make_case(15)
    w, b = net.lin_out.weight, net.lin_out.bias
    e16 = net.lin_enc(enc).detach().bfloat16().requires_grad_()
    d16 = net.lin_dec(dec).detach().bfloat16().requires_grad_()
    got = sample_wise_rnnt_loss(e16, d16, targets, t_lens, u_lens, w, b)
    e32, d32 = e16.detach().float().requires_grad_(), d16.detach().float().requires_grad_()
    ref = sample_wise_rnnt_loss(e32, d32, targets, t_lens, u_lens, w, b)
    assert got.dtype == torch.float32 and close(got.detach(), ref.detach())
    (ge,) = torch.autograd.grad(got, [e16])
    (ge32,) = torch.autograd.grad(ref, [e32])
    assert ge.dtype == torch.bfloat16 and close(ge.float(), ge32.bfloat16().float(), rtol=1e-2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under = sample_wise_rnnt_loss(e32, d32, targets, t_lens, u_lens, w, b)
    assert close(under.detach(), ref.detach())


def test_no_grad_and_eval_store_nothing():
    net, enc, dec, targets, t_lens, u_lens = make_case(16)
    ref = transducer_loss(net, enc, dec, targets, t_lens, u_lens).detach()
    for context in (torch.no_grad, torch.inference_mode):
        stats: dict = {}
        with context():
            out = transducer_loss(net, enc, dec, targets, t_lens, u_lens, stats=stats)
        assert out.grad_fn is None and not out.requires_grad
        assert stats["gradients_stored"] is False and stats["recompute_in_backward"] is False
        assert close(out, ref)
    stats = {}
    net.requires_grad_(False)
    out = transducer_loss(net, enc.detach(), dec.detach(), targets, t_lens, u_lens, stats=stats)
    assert out.grad_fn is None and stats["gradients_stored"] is False
    net.requires_grad_(True)
    stats = {}
    out = transducer_loss(net, enc, dec, targets, t_lens, u_lens, stats=stats)
    assert stats["gradients_stored"] is True
    stats = {}
    transducer_loss(net, enc, dec, targets, t_lens, u_lens, reduction="none", stats=stats)
    assert stats["gradients_stored"] is False and stats["recompute_in_backward"] is True


def test_memory_never_holds_a_batch_sized_joint():
    """The biggest 4-D block ever built is one group, within the budget (default: the largest sample)."""
    batch, frames, labels, vocab = 8, 10, 6, 11
    t_lens = torch.tensor([10, 3, 4, 2, 5, 1, 3, 2])
    u_lens = torch.tensor([6, 2, 1, 0, 3, 5, 2, 1])
    net, enc, dec, targets, _, _ = make_case(17, batch, frames, labels, vocab, t_lens=t_lens, u_lens=u_lens)
    largest = int((t_lens * (u_lens + 1)).max()) * vocab
    padded_batch = batch * frames * (labels + 1) * vocab
    for budget, bound in ((None, largest), (1, largest), (3 * largest, 3 * largest)):
        stats: dict = {}
        loss = transducer_loss(net, enc, dec, targets, t_lens, u_lens, max_group_elements=budget, stats=stats)
        loss.backward()
        assert stats["max_group_joint_elements"] <= bound < padded_batch
        assert sum(stats["group_sizes"]) == batch
        if budget is None:
            assert len(stats["group_sizes"]) < batch  # small samples were packed together
        joint = net.lin_out.in_features
        assert stats["workspace_bytes"] <= 4 * (bound // vocab) * (vocab + 2 * joint) + 4 * 8192 * joint


# ------------------------------------------------------------------------------ FastEmit, infinity


def test_fastemit_matches_espnets_numba_rnnt_and_leaves_the_loss_value():
    """FastEmit as warp-transducer does it: the loss value is -log P, the label emissions' gradient
    is scaled by (1 + lambda). ESPnet's bundled numba RNNTLossNumba (NeMo's port) has the same
    gradient (it reports (1 + lambda) x the loss)."""
    numba_rnnt = pytest.importorskip("espnet2.asr.transducer.rnnt_multi_blank.rnnt_multi_blank")
    lam = 0.3
    net, enc, dec, targets, t_lens, u_lens = make_case(18, batch=4)
    got = transducer_loss(net, enc, dec, targets, t_lens, u_lens, reduction="sum", fastemit_lambda=lam)
    plain = transducer_loss(net, enc, dec, targets, t_lens, u_lens, reduction="sum")
    assert close(got.detach(), plain.detach())
    logits = net(enc[:, :int(t_lens.max())].unsqueeze(2), dec.unsqueeze(1))
    crit = numba_rnnt.RNNTLossNumba(blank=0, reduction="sum", fastemit_lambda=lam)
    ref = crit(logits.log_softmax(-1), targets.int(), t_lens.int(), u_lens.int())
    assert close(ref.detach().reshape(()) / (1 + lam), got.detach())
    g_got = grads_of(got, inputs(net, enc, dec), "sum")
    for a, b in zip(g_got, grads_of(ref, inputs(net, enc, dec), "sum")):
        assert close(a, b)
    # and an independent batched construction: torchaudio's lattice gradient w.r.t. log-probs with
    # its label entries scaled by (1 + lambda), chained through log_softmax by autograd
    logp = net(enc[:, :int(t_lens.max())].unsqueeze(2), dec.unsqueeze(1)).log_softmax(-1)
    leaf = logp.detach().requires_grad_()
    costs = taf.rnnt_loss(leaf, targets.int(), t_lens.int(), u_lens.int(), blank=0, reduction="none",
                          fused_log_softmax=False)
    (g_logp,) = torch.autograd.grad(costs.sum(), leaf)
    label_mask = torch.zeros_like(g_logp, dtype=torch.bool)
    index = targets.clamp(min=0)[:, None, :, None].expand(-1, g_logp.shape[1], -1, 1)
    real = (torch.arange(targets.shape[1])[None, :] < u_lens[:, None])[:, None, :, None]
    label_mask[:, :, :-1].scatter_(3, index, real.expand(-1, g_logp.shape[1], -1, 1))
    g_fe = torch.where(label_mask, g_logp * (1 + lam), g_logp)
    ref2 = torch.autograd.grad(logp, inputs(net, enc, dec), g_fe)
    for a, b in zip(g_got, ref2):
        assert close(a, b)


def test_infinite_loss_is_reported_and_zero_infinity_drops_it():
    """A sample with no path of non-zero probability (its label's logit is -inf everywhere): loss
    +inf, NaN gradients (torchaudio gives a NaN loss); zero_infinity=True: 0 and no gradient, the
    rest equal to batched torchaudio on the finite samples (mean still divides by B)."""
    net, enc, dec, targets, t_lens, u_lens = make_case(19, batch=4, vocab=9)
    masked = 5
    targets = torch.where(targets == masked, torch.ones_like(targets), targets)
    targets[2, 0] = masked
    u_lens[2] = max(int(u_lens[2]), 1)
    with torch.no_grad():
        net.lin_out.bias[masked] = -math.inf
    none = transducer_loss(net, enc, dec, targets, t_lens, u_lens, reduction="none")
    assert math.isinf(none[2].item()) and none[2].item() > 0
    assert torch.isfinite(none[[0, 1, 3]]).all()
    mean = transducer_loss(net, enc, dec, targets, t_lens, u_lens)
    assert math.isinf(mean.item())
    (g_enc,) = torch.autograd.grad(mean, [enc])
    assert g_enc[2].isnan().any()
    ta = batched_reference(net, enc, dec, targets, t_lens, u_lens, reduction="none")
    assert math.isnan(ta[2].item())  # what torchaudio reports for the same sample

    got = transducer_loss(net, enc, dec, targets, t_lens, u_lens, zero_infinity=True)
    keep = torch.tensor([0, 1, 3])
    ref = batched_reference(net, enc[keep], dec[keep], targets[keep], t_lens[keep], u_lens[keep],
                            reduction="sum") / 4
    assert close(got.detach(), ref.detach())
    params = [p for n, p in net.named_parameters() if n != "lin_out.bias"]
    ga = torch.autograd.grad(got, [enc, dec, *params])
    gb = torch.autograd.grad(ref, [enc, dec, *params], allow_unused=True)
    assert (ga[0][2] == 0).all() and (ga[1][2] == 0).all()
    assert close(ga[0][keep], gb[0][keep]) and close(ga[1][keep], gb[1][keep])
    for a, b in zip(ga[2:], gb[2:]):
        assert close(a, b)


def test_zero_frames_refused_or_dropped():
    """T_b = 0: no path at all. Refused by name (torchaudio silently returns 0); zero_infinity drops it."""
    net, enc, dec, targets, t_lens, u_lens = make_case(20, batch=4)
    t_lens[1] = 0
    with pytest.raises(ValueError, match=r"labels longer than the frames allow: sample 1 has enc_lens\[1\] = 0"):
        transducer_loss(net, enc, dec, targets, t_lens, u_lens)
    none = transducer_loss(net, enc, dec, targets, t_lens, u_lens, reduction="none", zero_infinity=True)
    assert none[1].item() == 0.0
    got = transducer_loss(net, enc, dec, targets, t_lens, u_lens, reduction="sum", zero_infinity=True)
    keep = torch.tensor([0, 2, 3])
    ref = batched_reference(net, enc[keep], dec[keep], targets[keep], t_lens[keep], u_lens[keep], reduction="sum")
    assert close(got.detach(), ref.detach())
    ga = torch.autograd.grad(got, [enc, *net.parameters()])
    gb = torch.autograd.grad(ref, [enc, *net.parameters()])
    assert (ga[0][1] == 0).all() and close(ga[0], gb[0])  # gb: w.r.t. the whole enc (row 1 unused)
    for a, b in zip(ga[1:], gb[1:]):
        assert close(a, b)


# --------------------------------------------------------------------------------------- refusals


def refused(match, **change):
    net, enc, dec, targets, t_lens, u_lens = make_case(21, batch=3, frames=6, labels=4, vocab=9,
                                                        t_lens=[6, 3, 2], u_lens=[4, 2, 1])
    args = dict(enc_out=enc, dec_out=dec, targets=targets, enc_lens=t_lens, target_lens=u_lens)
    options = {k: change.pop(k) for k in list(change) if k not in args}
    args.update(change)
    with pytest.raises(ValueError, match=match):
        transducer_loss(net, **args, **options)


def test_refuses_lengths_that_do_not_match_the_tensors():
    refused(r"enc_lens\[1\] = 7 is outside \[0, T \(enc_proj.shape\[1\]\)=6\]", enc_lens=torch.tensor([6, 7, 2]))
    refused(r"enc_lens\[2\] = -1 is outside", enc_lens=torch.tensor([6, 3, -1]))
    refused(r"target_lens\[0\] = 5 is outside \[0, U \(targets.shape\[1\]\)=4\]",
            target_lens=torch.tensor([5, 2, 1]))
    refused(r"target_lens\[1\] = -2 is outside", target_lens=torch.tensor([4, -2, 1]))
    refused(r"enc_lens must have shape \[B=3\]", enc_lens=torch.tensor([6, 3]))
    refused(r"target_lens must have shape \[B=3\]", target_lens=torch.tensor([[4, 2, 1]]))
    refused(r"enc_lens must be an integer tensor", enc_lens=torch.tensor([6.0, 3.0, 2.0]))
    refused(r"targets must be \[B=3, U\]", targets=torch.ones(2, 4, dtype=torch.long))
    refused(r"dec_proj has 5 rows, but targets has U=3 columns", targets=torch.ones(3, 3, dtype=torch.long),
            target_lens=torch.tensor([3, 2, 1]))
    refused(r"dec_proj has batch size 2, enc_proj has 3", dec_out=torch.randn(2, 5, 6))


def test_refuses_blank_outside_the_vocabulary():
    refused(r"blank must be an integer in \[0, V=9\)", blank=9)
    refused(r"blank must be an integer in \[0, V=9\)", blank=-1)
    with pytest.raises(ValueError, match=r"blank must be an integer >= 0"):
        SampleWiseTransducerLoss(blank=-1)


def test_refuses_bad_labels():
    targets = torch.tensor([[1, 2, 3, 4], [1, 0, 0, 0], [3, 0, 0, 0]])
    refused(r"targets\[1, 1\] = 0 is the blank id", targets=targets, target_lens=torch.tensor([4, 2, 1]))
    targets = torch.tensor([[1, 2, 9, 4], [1, 2, 0, 0], [3, 0, 0, 0]])
    refused(r"targets\[0, 2\] = 9 is outside \[0, V=9\)", targets=targets)
    targets = torch.tensor([[1, 2, 3, 4], [1, -1, 0, 0], [3, 0, 0, 0]])
    refused(r"targets\[1, 1\] = -1 is outside", targets=targets)


def test_refuses_bad_options():
    refused(r"reduction must be one of \('mean', 'sum', 'none'\)", reduction="batchmean")
    refused(r"fastemit_lambda must be a finite number >= 0", fastemit_lambda=-0.1)
    refused(r"fastemit_lambda must be a finite number >= 0", fastemit_lambda=math.inf)
    refused(r"clamp must be a number", clamp=math.nan)
    refused(r"zero_infinity must be a bool", zero_infinity=1)
    refused(r"max_group_elements must be None or an integer >= 1", max_group_elements=0)
    with pytest.raises(ValueError, match=r"activation must be one of"):
        sample_wise_rnnt_loss(torch.randn(1, 2, 3), torch.randn(1, 2, 3), torch.ones(1, 1, dtype=torch.long),
                              torch.tensor([2]), torch.tensor([1]), torch.randn(4, 3), activation="gelu")
    with pytest.raises(ValueError, match=r"joint_network must be ESPnet's JointNetwork .* no 'lin_enc'"):
        transducer_loss(torch.nn.Linear(2, 2), torch.randn(1, 2, 3), torch.randn(1, 2, 3),
                        torch.ones(1, 1, dtype=torch.long), torch.tensor([2]), torch.tensor([1]))
