"""ESPnet training configs: the one loader, and the ESPnet facts every tool here needs.

A training config is ESPnet's YAML of ``espnet2.bin.asr_train`` options. Everything that reads
one (check-config, plot-lr / the LR curve, the report, training curves, stage 10's stats key)
goes through this module, so "where is the peak LR" or "how long is the warmup" has one answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A training config that cannot be read or used (the message names the file and key)."""


def load_config(path: str | Path) -> dict[str, Any]:
    """Read an ESPnet training YAML into a dict; errors (missing file, bad YAML, not a mapping) name the file.

    An empty file is an empty config (ESPnet's defaults everywhere).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config: {err.strerror or err}") from None
    try:
        conf = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from None
    if conf is None:
        return {}
    if not isinstance(conf, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping of ESPnet training options, got {type(conf).__name__}"
        )
    return conf
