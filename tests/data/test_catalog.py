"""The catalog is the one list of corpora: the help text, docs/corpora.md and db.sh follow it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from espnet_warmup.recipe.data.catalog import READERS, corpus_names

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "egs2" / "warmup_dilemma" / "asr1"


def _db_sh_vars(path: Path) -> set[str]:
    return set(re.findall(r"^([A-Z_]+)=", path.read_text(), flags=re.M))


def test_docs_name_every_catalog_corpus_and_its_db_variable():
    docs = (REPO / "docs" / "corpora.md").read_text()
    for name, reader in READERS.items():
        row = next((line for line in docs.splitlines() if line.startswith("|") and f"`{reader.db_var}`" in line), "")
        assert row, f"docs/corpora.md has no table row with `{reader.db_var}` ({name})"
        for lang in reader.langs:
            assert f"`{name}_{lang}`" in row or (name == "librispeech" and "`librispeech`" in row), (name, lang)


def test_both_db_sh_define_every_catalog_root():
    wanted = {r.db_var for r in READERS.values()}
    for db_sh in (RECIPE / "db.sh", REPO / "egs2" / "TEMPLATE" / "asr1" / "db.sh"):
        assert wanted <= _db_sh_vars(db_sh), (db_sh, wanted - _db_sh_vars(db_sh))


def test_help_lists_the_corpora_and_roots_from_the_catalog():
    proc = subprocess.run(["bash", "local/data.sh", "--help"], cwd=RECIPE, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for name, reader in READERS.items():
        assert f"root: ${reader.db_var}" in proc.stdout
    assert ", ".join(corpus_names()) in " ".join(proc.stdout.split())


def test_a_db_sh_root_reaches_the_reader_without_an_export_list(tmp_path):
    """local/data.sh reads db.sh with set -a: a variable defined there only (not exported by
    the caller) is seen by the reader, here as a wrong root named in the error."""
    recipe = tmp_path / "asr1"
    recipe.mkdir()
    for name in ("path.sh", "local"):
        (recipe / name).symlink_to(RECIPE / name)
    (recipe / "db.sh").write_text(f"FLEURS={tmp_path}/fleurs_root\n")
    proc = subprocess.run(["bash", "local/data.sh", "--corpus", "fleurs_it", "--data_dir", str(tmp_path / "d")],
                          cwd=recipe, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1
    assert f"corpus root FLEURS={tmp_path}/fleurs_root does not exist" in proc.stderr


def test_one_driver_serves_the_embedded_and_the_real_corpora(capsys):
    from espnet_warmup.recipe.data import prepare

    assert prepare.main(["--print_test_sets", "--corpus", "digits"]) == 0
    assert capsys.readouterr().out == "test\n"
    assert prepare.main(["--print_test_sets", "--corpus", "fleurs_it", "--db", "FLEURS=/nowhere"]) == 0
    assert capsys.readouterr().out == "test_fleurs_it_test\n"
    assert prepare.main(["--corpus", "digits mls_it"]) == 1
    assert capsys.readouterr().err == ("local/data.sh: ERROR: the embedded corpora (digits, sentences) cannot be "
                                       "prepared together with other corpora; got --corpus digits mls_it\n")
