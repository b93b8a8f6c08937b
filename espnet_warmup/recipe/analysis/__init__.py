"""Analysis of ESPnet trainings: LR curves of configs, training curves, spikes, divergence monitor.

Modules (one concept each), bottom to top:
    logs        parsers for ESPnet's train.log and tensorboard event files
    spikes      gradient-norm spike detection (grad norm > k x trailing running median)
    metrics     numbers derived from curves: perplexity, % clipped, grad-norm stats, updates to accuracy
    runs        one exp dir as curves (RunCurves), read from train.log or tensorboard through one Source
    figures     save_figure: matplotlib figures written atomically
    divergence  the monitor's divergence rules (pure: parsed records in, findings out)
    follow      LogFollower: tail -F of a log (partial lines, replaced/truncated/stale files)
    procs       /proc utilities: is a job alive, its start time, its descendants, signal its tree
    child       the monitor's run-mode command: own session, signals passed on, exit status
    config_lr   LR curve of any ESPnet training config (instantiates the registered scheduler)
    plot_lr     ``espnet-warmup plot-lr``: LR curves of configs, warmup windows marked
    curves      ``espnet-warmup curves``: training-curve figure + markdown summary of exp dirs
    monitor     ``espnet-warmup monitor``: runs or follows a training, warns on divergence, may stop it

Everything here reads what ESPnet already writes; nothing needs a change in ESPnet.
"""
