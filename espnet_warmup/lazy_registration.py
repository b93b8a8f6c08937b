"""Register our schedulers and model right after ESPnet's task modules are first imported, not before.

``install()`` puts a finder at the front of ``sys.meta_path``. It answers for two modules only:

* ``espnet2.tasks.abs_task`` (:data:`TARGET`, the home of ESPnet's ``scheduler_classes``):
  :func:`espnet_warmup.registry.register` runs as soon as that module has finished executing;
* ``espnet2.tasks.asr`` (:data:`ASR_TARGET`, whose module-level ``model_choices`` is the ASR
  task's ``--model`` registry): :func:`espnet_warmup.transducer.espnet_model.register_model` adds
  ``model: espnet_samplewise_transducer`` (:data:`MODEL_NAME`) there as soon as that module has
  finished executing (it imports ``abs_task`` first, so the schedulers are registered by then).

For each, the finder lets the other finders find the real module and wraps its loader, so the
registration runs before any ESPnet task builds its parser, which happens later, when a ``main()``
runs. Every other import costs two string comparisons.

Why lazy: registering eagerly means importing ``espnet2.tasks.abs_task`` (torch, ESPnet's model
zoo ...) before the target runs. That costs seconds for a target that never needs it, and
whatever ESPnet prints while it is imported ("Failed to import Flash Attention ..." on stdout,
nltk's download attempts on stderr) would become part of the output of a program that never
asked for it (e.g. ``espnet2.bin.tokenize_text`` piped into a reference file). Lazily, the
target's output is exactly what plain ``python`` gives it.

The model is optional, the schedulers are not: an ESPnet (or torchaudio) that lacks what the
transducer model needs (its import raises ImportError) gets the schedulers only, silently; the
model is then simply not among ``--model``'s choices. Any other failure of either registration
(e.g. a different class already under one of our names: refused, never replaced) follows
``on_error``.

Used by the launcher (``python -m espnet_warmup``, errors propagate), its spawned workers
(:mod:`espnet_warmup._worker_main`) and the startup hook (:mod:`espnet_warmup.hook`, errors become
one line on stderr).

``ESPNET_WARMUP_QUIET_IMPORTS=1`` (set by the recipe's path.sh) additionally keeps two import-time
notices out of the recipe's logs; see :data:`QUIET_IMPORTS_ENV`.
"""

from __future__ import annotations

import os
import sys

TARGET = "espnet2.tasks.abs_task"
#: ESPnet's ASR task module: its module-level ``model_choices`` gets our transducer model.
ASR_TARGET = "espnet2.tasks.asr"
#: the name our sample-wise transducer model is registered under (``--model`` / ``model:``); kept
#: here too so that nothing of the transducer package is imported before ESPnet is.
MODEL_NAME = "espnet_samplewise_transducer"

#: With this environment variable set to 1, two import-time notices that are not about the run are
#: prevented where the lazy finder is installed (launcher, startup hook):
#: * nltk's download attempts for g2p_en's data (``[nltk_data] Error loading cmudict ...``): ESPnet
#:   imports g2p_en for its phoneme tokenizers, and g2p_en calls ``nltk.download`` at import time if
#:   the data is missing. While g2p_en is imported, ``nltk.download`` is replaced by a function that
#:   does not go to the network (it returns False, as a failed download does); using a g2p tokenizer
#:   later still fails with nltk's own "Resource cmudict not found" error, where the data is needed.
#:   Where the data is installed (``NLTK_DATA``), g2p_en finds it and never calls the downloader.
#: * ESPnet's "Failed to import Flash Attention, using ESPnet default: No module named 'flash_attn'"
#:   (a print on stdout when the optional flash_attn package is not installed): dropped only when
#:   flash_attn is not installed at all; a flash_attn that is installed but fails to import is a real
#:   problem, and its notice is written as is.
QUIET_IMPORTS_ENV = "ESPNET_WARMUP_QUIET_IMPORTS"
G2P_MODULE = "g2p_en.g2p"
ATTENTION_MODULE = "espnet.nets.pytorch_backend.transformer.attention"
FLASH_NOTICE = "Failed to import Flash Attention, using ESPnet default: No module named 'flash_attn'"


class _WrappedLoader:
    """The real loader, with ``after(module)`` run once the module has executed (and, optionally,
    ``around`` as a context manager around the execution)."""

    def __init__(self, loader, after=None, around=None):
        self._loader = loader
        self._after = after
        self._around = around

    def __getattr__(self, name):  # get_source, get_filename, is_package ... of the real loader
        return getattr(self._loader, name)

    def create_module(self, spec):
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module):
        if self._around is None:
            self._loader.exec_module(module)
        else:
            with self._around():
                self._loader.exec_module(module)
        if self._after is not None:
            self._after(module)


class RegisterAfterImport:
    """Meta-path finder: registers our schedulers right after :data:`TARGET` executed, and our
    transducer model right after :data:`ASR_TARGET` executed."""

    def __init__(self, on_error: str = "raise", quiet_imports: bool = False):
        if on_error not in ("raise", "warn"):
            raise ValueError(f"on_error must be 'raise' or 'warn', got {on_error!r}")
        self.on_error = on_error
        self.quiet_imports = quiet_imports

    def _real_spec(self, name, path, target):
        for finder in sys.meta_path:
            if isinstance(finder, RegisterAfterImport) or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                return spec
        return None

    def find_spec(self, name, path=None, target=None):
        if name == TARGET:
            after, around = self._register, None
        elif name == ASR_TARGET:
            after, around = self._register_model, None
        elif self.quiet_imports and name == G2P_MODULE:
            after, around = None, _no_nltk_downloads
        elif self.quiet_imports and name == ATTENTION_MODULE:
            after, around = None, _without_flash_notice
        else:
            return None
        spec = self._real_spec(name, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _WrappedLoader(spec.loader, after, around)
        return spec

    def _register(self, module) -> None:
        try:
            from espnet_warmup.registry import register

            register(module.scheduler_classes)
        except Exception as err:  # noqa: BLE001 -- the hook must never break the user's program
            if self.on_error == "raise":
                raise
            sys.stderr.write(f"espnet-warmup: schedulers not registered: {type(err).__name__}: {err}\n")

    def _register_model(self, module) -> None:
        try:
            try:
                from espnet_warmup.transducer.espnet_model import register_model
            except ImportError:  # an ESPnet / torchaudio without what the model needs: schedulers only
                return
            register_model(module.model_choices)
        except Exception as err:  # noqa: BLE001 -- the hook must never break the user's program
            if self.on_error == "raise":
                raise
            sys.stderr.write(f"espnet-warmup: model {MODEL_NAME} not registered: {type(err).__name__}: {err}\n")


def install(on_error: str = "raise", quiet_imports: bool | None = None) -> RegisterAfterImport:
    """Put a :class:`RegisterAfterImport` first on ``sys.meta_path`` (once; idempotent) and return it.

    If ESPnet's task modules are already imported, registers now (the schedulers, then the model).
    ``quiet_imports`` defaults to the environment variable :data:`QUIET_IMPORTS_ENV` being ``1``."""
    if quiet_imports is None:
        quiet_imports = os.environ.get(QUIET_IMPORTS_ENV, "") == "1"
    for finder in sys.meta_path:
        if isinstance(finder, RegisterAfterImport):
            finder.quiet_imports = finder.quiet_imports or quiet_imports
            break
    else:
        finder = RegisterAfterImport(on_error, quiet_imports)
        sys.meta_path.insert(0, finder)
    module = sys.modules.get(TARGET)
    if module is not None:
        finder._register(module)
    module = sys.modules.get(ASR_TARGET)
    if module is not None:
        finder._register_model(module)
    return finder


class _no_nltk_downloads:
    """While g2p_en is imported: ``nltk.download`` returns False without going to the network."""

    def __enter__(self):
        try:
            import nltk
        except ImportError:
            self._nltk = None
            return self
        self._nltk, self._download = nltk, nltk.download
        nltk.download = _offline_download
        return self

    def __exit__(self, *exc):
        if self._nltk is not None and self._nltk.download is _offline_download:
            self._nltk.download = self._download
        return False


def _offline_download(*args, **kwargs) -> bool:
    return False


class _without_flash_notice:
    """While ESPnet's attention module is imported: its notice that the optional flash_attn package
    is not installed is dropped (only that exact line, and only when flash_attn is not installed)."""

    def __enter__(self):
        import importlib.util

        try:
            absent = importlib.util.find_spec("flash_attn") is None
        except (ImportError, ValueError):
            absent = False
        self._stdout = sys.stdout
        if absent:
            sys.stdout = _DropLine(self._stdout, FLASH_NOTICE)
        return self

    def __exit__(self, *exc):
        if isinstance(sys.stdout, _DropLine):
            sys.stdout.flush_pending()
            sys.stdout = self._stdout
        return False


class _DropLine:
    """A text stream that forwards everything but whole lines equal to ``line``."""

    def __init__(self, stream, line: str):
        self._stream, self._line, self._pending = stream, line, ""

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def write(self, text: str) -> int:
        self._pending += text
        *complete, self._pending = self._pending.split("\n")
        for piece in complete:
            if piece != self._line:
                self._stream.write(piece + "\n")
        # A partial line that cannot become the dropped line is forwarded at once.
        if self._pending and not self._line.startswith(self._pending):
            self._stream.write(self._pending)
            self._pending = ""
        return len(text)

    def flush_pending(self) -> None:
        if self._pending:
            self._stream.write(self._pending)
            self._pending = ""

    def flush(self) -> None:
        self._stream.flush()
