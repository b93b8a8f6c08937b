"""The ``conf/slurm.conf`` grammar of Kaldi's queue.pl/slurm.pl, and option resolution.

One directive per line; ``#`` starts a comment; blank lines are skipped::

    command sbatch --export=PATH          the submit command and its fixed flags (required)
    option mem=* --mem-per-cpu $0         used for ``--mem X``: every $0 becomes X
    option mem=0                          exact value: wins over the * line; no flags = add nothing
    option gpu=* -p gpu --gres=gpu:$0
    default gpu=0                         the value used when --gpu is not given

Resolution of a launcher option ``--NAME X``: the ``option NAME=X`` line if there is one,
else the ``option NAME=*`` line with ``$0`` replaced by X, else an error naming the option and
the conf file. Defaults go through the same resolution. Flags are split like shell words
(quotes allowed) and ``$0`` is substituted inside each word, so a value with spaces stays
one argument.
"""

from __future__ import annotations

import dataclasses
import shlex

from espnet_warmup.recipe.launchers.common import UsageError

#: Used when no --config is given and conf/slurm.conf does not exist (Kaldi does the same).
#: It assumes nothing about partition names: jobs go to the cluster's default partition.
BUILTIN_CONF = """\
command sbatch --export=PATH
option name=* --job-name $0
option time=* --time $0
option mem=* --mem-per-cpu $0
option mem=0
option num_threads=* --cpus-per-task $0
option num_threads=1 --cpus-per-task 1
option num_nodes=* --nodes $0 --ntasks-per-node 1
option num_nodes=1 --nodes 1
default gpu=0
option gpu=0
option gpu=* --gres=gpu:$0
"""


@dataclasses.dataclass
class SlurmConf:
    """A parsed conf: submit command, per-option flag templates, defaults."""

    path: str
    command: list[str]
    #: name -> {value or "*": flag words (with $0 placeholders for "*")}
    options: dict[str, dict[str, list[str]]]
    defaults: dict[str, str]

    def describes(self, name: str) -> bool:
        return name in self.options

    def flags_for(self, name: str, value: str) -> list[str]:
        """The submit flags for ``--name value`` (see the module docstring)."""
        forms = self.options.get(name, {})
        if value in forms:
            return list(forms[value])
        if "*" in forms:
            return [word.replace("$0", value) for word in forms["*"]]
        if forms:
            allowed = ", ".join(sorted(forms))
            raise UsageError(
                f"value '{value}' of option --{name} is not allowed by {self.path} "
                f"(it describes {name}={allowed})"
            )
        raise UsageError(
            f"option --{name} is not described in {self.path} "
            f"(add a line 'option {name}=* <sbatch flags with $0>')"
        )

    def resolve(self, given: dict[str, str]) -> list[str]:
        """Submit flags for the given options plus the defaults not overridden.

        ``given`` keeps the command-line order; defaults come after, in conf order.
        """
        flags: list[str] = []
        for name, value in given.items():
            flags += self.flags_for(name, value)
        for name, value in self.defaults.items():
            if name not in given:
                flags += self.flags_for(name, value)
        return flags

    def value(self, name: str, given: dict[str, str]) -> str | None:
        """The effective value of an option: given on the command line, else the default."""
        return given.get(name, self.defaults.get(name))


def parse_conf(text: str, path: str) -> SlurmConf:
    """Parse conf text; errors name the file and line."""
    command: list[str] | None = None
    options: dict[str, dict[str, list[str]]] = {}
    defaults: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        keyword, _, rest = line.partition(" ")
        rest = rest.strip()
        where = f"{path}:{number}"
        try:
            words = shlex.split(rest)
        except ValueError as err:
            raise UsageError(f"unable to parse line '{raw.strip()}' in {where}: {err}") from None
        if keyword == "command":
            if not words:
                raise UsageError(f"empty command in {where}")
            command = words
        elif keyword in ("option", "default") and words and "=" in words[0]:
            name, value = words[0].split("=", 1)
            if not name or not value:
                raise UsageError(f"unable to parse line '{raw.strip()}' in {where}: "
                                 "expected NAME=VALUE")
            if keyword == "default":
                if len(words) > 1:
                    raise UsageError(f"unable to parse line '{raw.strip()}' in {where}: "
                                     "'default NAME=VALUE' takes no flags")
                defaults[name] = value
            else:
                options.setdefault(name, {})[value] = words[1:]
        else:
            raise UsageError(
                f"unable to parse line '{raw.strip()}' in {where} (expected 'command ...', "
                "'option NAME=VALUE [flags]', 'option NAME=* flags with $0' or 'default NAME=VALUE')"
            )
    if command is None:
        raise UsageError(f"{path} does not contain the line 'command <submit command>'")
    return SlurmConf(path=path, command=command, options=options, defaults=defaults)


def load_conf(path: str | None, default_path: str = "conf/slurm.conf") -> SlurmConf:
    """Load ``path`` (given with --config: must exist), else ``default_path`` if it exists,
    else the built-in conf."""
    if path is None:
        try:
            with open(default_path, encoding="utf-8") as f:
                return parse_conf(f.read(), default_path)
        except FileNotFoundError:
            return parse_conf(BUILTIN_CONF, "the built-in slurm.pl config")
    try:
        with open(path, encoding="utf-8") as f:
            return parse_conf(f.read(), path)
    except OSError as err:
        raise UsageError(f"cannot read config file {path}: {err.strerror}") from None
