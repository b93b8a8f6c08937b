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
    assert finder.find_spec("espnet2.tasks.asr") is None
    assert finder.find_spec(lr.G2P_MODULE) is None  # quiet imports off: not its business


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
