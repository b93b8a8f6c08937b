"""espnet_warmup.lazy_registration: the finder, its error modes and the quiet-import helpers."""

import io
import sys
import types

import pytest

from espnet_warmup import lazy_registration as lr


@pytest.fixture
def clean_meta_path():
    before = list(sys.meta_path)
    yield
    sys.meta_path[:] = before


def test_install_is_idempotent_and_first_on_the_meta_path(clean_meta_path):
    a = lr.install(quiet_imports=False)
    b = lr.install(quiet_imports=True)
    assert a is b and sys.meta_path[0] is a
    assert sum(isinstance(f, lr.RegisterAfterImport) for f in sys.meta_path) == 1
    assert a.quiet_imports is True  # a later install may switch quiet imports on, never off


def test_the_finder_answers_only_for_its_modules():
    finder = lr.RegisterAfterImport()
    assert finder.find_spec("json") is None
    assert finder.find_spec("espnet2.tasks.lm") is None
    assert finder.find_spec(lr.G2P_MODULE) is None  # quiet imports off: not its business


def test_the_finder_wraps_the_two_task_modules_and_imports_nothing_itself():
    import importlib

    tasks = importlib.import_module("espnet2.tasks")  # a package __init__: no task module imported
    before = set(sys.modules)
    finder = lr.RegisterAfterImport()
    for name, after in ((lr.TARGET, finder._register), (lr.ASR_TARGET, finder._register_model)):
        spec = finder.find_spec(name, tasks.__path__)
        assert isinstance(spec.loader, lr._WrappedLoader) and spec.loader._after == after
        assert spec.origin.endswith(name.replace(".", "/") + ".py")
    assert set(sys.modules) - before == set()


def test_bad_on_error_is_refused():
    with pytest.raises(ValueError, match="on_error must be 'raise' or 'warn', got 'ignore'"):
        lr.RegisterAfterImport(on_error="ignore")


def test_a_conflict_raises_in_the_launcher_and_is_one_stderr_line_in_the_hook(capsys):
    from espnet_warmup.registry import RegistrationConflict

    class Other:
        pass

    taken = types.SimpleNamespace(scheduler_classes={"exponentialwarmuplr": Other})
    with pytest.raises(RegistrationConflict, match="cannot register scheduler 'exponentialwarmuplr'"):
        lr.RegisterAfterImport(on_error="raise")._register(taken)
    lr.RegisterAfterImport(on_error="warn")._register(taken)
    err = capsys.readouterr()
    assert err.out == ""
    assert err.err.startswith("espnet-warmup: schedulers not registered: RegistrationConflict: cannot register "
                              "scheduler 'exponentialwarmuplr': it is already taken by ")
    assert err.err.count("\n") == 1
    fresh = types.SimpleNamespace(scheduler_classes={})
    lr.RegisterAfterImport(on_error="warn")._register(fresh)
    from espnet_warmup.registry import SCHEDULERS

    assert fresh.scheduler_classes == SCHEDULERS
    assert {"exponentialwarmuplr", "polynomialwarmuplr"} <= set(fresh.scheduler_classes)


def test_drop_line_forwards_everything_but_the_exact_notice():
    out = io.StringIO()
    stream = lr._DropLine(out, lr.FLASH_NOTICE)
    stream.write("before\n" + lr.FLASH_NOTICE[:10])
    stream.write(lr.FLASH_NOTICE[10:] + "\n")  # the notice, written in two pieces: dropped
    stream.write(lr.FLASH_NOTICE + " (and more)\n")  # not the exact line: kept
    stream.write("Failed to import something else\n")
    stream.write("Fail")  # a partial line that may still become the notice is held ...
    assert out.getvalue().endswith("something else\n")
    stream.flush_pending()  # ... and written when the import is over
    assert out.getvalue() == ("before\n" + lr.FLASH_NOTICE + " (and more)\n"
                              "Failed to import something else\nFail")


def test_no_nltk_downloads_only_while_g2p_en_is_imported():
    nltk = pytest.importorskip("nltk")
    original = nltk.download
    with lr._no_nltk_downloads():
        assert nltk.download("cmudict") is False
        assert nltk.download is not original
    assert nltk.download is original


class _Choices:
    """The part of ESPnet's ``ClassChoices`` that registration touches."""

    def __init__(self, classes=None):
        self.classes = dict(classes or {})


def test_the_model_registers_into_the_asr_tasks_choices_once():
    from espnet_warmup.transducer.espnet_model import MODEL_NAME, SampleWiseTransducerASRModel

    assert lr.MODEL_NAME == MODEL_NAME  # lazy_registration names it without importing the model
    asr = types.SimpleNamespace(model_choices=_Choices({"espnet": object}))
    finder = lr.RegisterAfterImport(on_error="raise")
    finder._register_model(asr)
    finder._register_model(asr)  # idempotent
    assert asr.model_choices.classes == {"espnet": object, MODEL_NAME: SampleWiseTransducerASRModel}


def test_a_model_conflict_raises_in_the_launcher_and_is_one_stderr_line_in_the_hook(capsys):
    class Other:
        pass

    taken = types.SimpleNamespace(model_choices=_Choices({lr.MODEL_NAME: Other}))
    with pytest.raises(ValueError, match="cannot register model 'espnet_samplewise_transducer': it is already taken"):
        lr.RegisterAfterImport(on_error="raise")._register_model(taken)
    lr.RegisterAfterImport(on_error="warn")._register_model(taken)
    err = capsys.readouterr()
    assert err.out == ""
    assert err.err.startswith("espnet-warmup: model espnet_samplewise_transducer not registered: ValueError: "
                              "cannot register model 'espnet_samplewise_transducer': it is already taken by ")
    assert err.err.count("\n") == 1
    assert taken.model_choices.classes == {lr.MODEL_NAME: Other}  # refused, not replaced


def test_an_espnet_without_what_the_model_needs_gets_the_schedulers_only_silently(monkeypatch, capsys):
    # an older ESPnet (or torchaudio) where the transducer model cannot be imported: no model, no output,
    # not even in the launcher's raising mode
    monkeypatch.setitem(sys.modules, "espnet_warmup.transducer.espnet_model", None)  # import -> ImportError
    asr = types.SimpleNamespace(model_choices=_Choices())
    lr.RegisterAfterImport(on_error="raise")._register_model(asr)
    lr.RegisterAfterImport(on_error="warn")._register_model(asr)
    assert asr.model_choices.classes == {}
    assert capsys.readouterr() == ("", "")


def test_install_registers_at_once_what_is_already_imported(clean_meta_path, monkeypatch):
    from espnet_warmup.registry import SCHEDULERS

    abs_task = types.SimpleNamespace(scheduler_classes={})
    asr = types.SimpleNamespace(model_choices=_Choices())
    monkeypatch.setitem(sys.modules, lr.TARGET, abs_task)
    monkeypatch.setitem(sys.modules, lr.ASR_TARGET, asr)
    monkeypatch.setattr(sys, "meta_path", [f for f in sys.meta_path if not isinstance(f, lr.RegisterAfterImport)])
    lr.install(on_error="raise")
    assert abs_task.scheduler_classes == SCHEDULERS
    assert list(asr.model_choices.classes) == [lr.MODEL_NAME]
