"""Analysis of ESPnet trainings: LR curves of configs, training curves, spikes, divergence monitor.

Modules (one concept each):
    config_lr   LR curve of any ESPnet training config (instantiates the registered scheduler)
    plot_lr     ``espnet-warmup plot-lr``: LR curves of configs, warmup windows marked
    logs        parsers for ESPnet's train.log and tensorboard event files
    spikes      gradient-norm spike detection (grad norm > k x trailing running median)
    curves      ``espnet-warmup curves``: training-curve figure + markdown summary of exp dirs
    monitor     ``espnet-warmup monitor``: live divergence monitor beside a training job

Everything here reads what ESPnet already writes; nothing needs a change in ESPnet.
"""
