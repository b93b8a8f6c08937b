"""Published OWSM numbers: the cited data file, test-set matching, and the comparison table."""

import pytest

from espnet_warmup.recipe.owsm import (
    OwsmDataError,
    comparison_table,
    load_owsm_results,
    match_test_set,
)


def value(results, model, test_set, language):
    (r,) = [r for r in results if (r.model, r.test_set, r.language) == (model, test_set, language)]
    return r.value


def test_data_file_holds_the_papers_numbers_with_a_source_on_every_row():
    rows = load_owsm_results()
    assert len(rows) == 58
    assert all("arXiv:2401.16658" in r.source for r in rows)
    assert value(rows, "owsm_v3", "librispeech_test_clean", "eng") == 2.7
    assert value(rows, "owsm_v3.1_ebf", "librispeech_test_clean", "eng") == 2.4
    assert value(rows, "owsm_v3.1_ebf", "librispeech_test_other", "eng") == 5.0
    assert value(rows, "owsm_v3", "mls", "ita") == 24.5
    assert value(rows, "owsm_v3.1_ebf", "mls", "ita") == 20.2
    assert value(rows, "owsm_v3.1_ebf_base", "wsj_eval92", "eng") == 5.3
    assert {r.metric for r in rows if r.test_set == "aishell1"} == {"CER"}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("test", None),  # the embedded synthetic corpus
        ("test_clean", ("librispeech_test_clean", "eng")),
        ("librispeech-test-other", ("librispeech_test_other", "eng")),
        ("dev_clean", None),  # only test sets were published
        ("mls_it_test", ("mls", "ita")),
        ("mls_test", None),  # MLS without a language is ambiguous
        ("fleurs_en_test", ("fleurs", "eng")),
        ("fleurs_it_test", None),  # OWSM reports FLEURS for English only
        ("commonvoice_en_test", ("commonvoice", "eng")),
        ("tedlium3_test", ("tedlium", "eng")),
        ("eval2000", ("switchboard_eval2000", "eng")),
        ("test_eval92", ("wsj_eval92", "eng")),
        ("voxpopuli_test", ("voxpopuli", "eng")),
        ("aishell_test", ("aishell1", "zho")),
        ("kspon_eval_other", ("ksponspeech_eval_other", "kor")),
        ("test_it", None),
        # names made by espnet_warmup.recipe.data (data/test_<corpus>_<lang>_<split>)
        ("test_librispeech_en_test_other", ("librispeech_test_other", "eng")),
        ("test_mls_it_test", ("mls", "ita")),
        ("test_commonvoice_it_test", None),
        ("test_voxpopuli_en_test", ("voxpopuli", "eng")),
        ("test_kaldi_eval2000", ("switchboard_eval2000", "eng")),
    ],
)
def test_test_set_names_match_upstream_sets_only_when_they_are_the_same_set(name, expected):
    assert match_test_set(name) == expected


def test_table_shows_numbers_for_matching_sets_and_a_dash_and_a_sentence_otherwise():
    md = comparison_table({"test": 6.3, "test_clean": 3.1})
    lines = md.splitlines()
    assert lines[0] == "|test set|ours|upstream test set|metric|OWSM v3 (889M)|OWSM v3.1 (1.02B)|"
    assert lines[2] == "|test|6.3|-|-|-|-|"
    assert lines[3] == "|test_clean|3.1|LibriSpeech test-clean (eng)|WER|2.7|2.4|"
    assert (
        "No upstream OWSM test set matches `test`, so no OWSM number is shown for it: comparing error rates "
        "across different test sets would compare apples with pears."
    ) in md
    assert md.count("Sources: ") == 1 and "Table 2" in md
    assert "Whisper's text normaliser" in md


def test_table_for_names_only_has_no_ours_column_and_cites_nothing_when_nothing_matches():
    md = comparison_table(["test"])
    assert md.splitlines()[:3] == [
        "|test set|upstream test set|metric|OWSM v3 (889M)|OWSM v3.1 (1.02B)|",
        "|---|---|---|---|---|",
        "|test|-|-|-|-|",
    ]
    assert "Sources:" not in md


def test_model_without_a_number_for_a_set_shows_a_dash():
    md = comparison_table(["mls_it_test"], models=["owsm_v3.1_ebf_base", "owsm_v3.1_ebf"])
    assert "|mls_it_test|MLS (ita)|WER|-|20.2|" in md.splitlines()


def test_explicit_mapping_overrides_the_name_rules():
    md = comparison_table({"my_ls_copy": 2.0}, mapping={"my_ls_copy": ("librispeech_test_clean", "eng")})
    assert "|my_ls_copy|2.0|LibriSpeech test-clean (eng)|WER|2.7|2.4|" in md.splitlines()


def test_unknown_model_is_an_error_listing_the_known_ones():
    with pytest.raises(ValueError, match=r"^unknown OWSM model\(s\) \['whisper'\]; known: owsm_v3, "):
        comparison_table(["test"], models=["whisper"])


def test_malformed_data_files_are_errors_naming_file_and_row(tmp_path):
    bad_cols = tmp_path / "cols.csv"
    bad_cols.write_text("model,value\nx,1\n")
    with pytest.raises(OwsmDataError, match=r"cols.csv: columns must be model,params,test_set"):
        load_owsm_results(bad_cols)
    bad_value = tmp_path / "value.csv"
    bad_value.write_text("model,params,test_set,language,metric,value,source\nowsm_v3,889M,mls,ita,WER,n/a,paper\n")
    with pytest.raises(OwsmDataError, match=r"value.csv:2: value must be a number, got 'n/a'$"):
        load_owsm_results(bad_value)
    no_source = tmp_path / "source.csv"
    no_source.write_text("model,params,test_set,language,metric,value,source\nowsm_v3,889M,mls,ita,WER,1.0,\n")
    with pytest.raises(OwsmDataError, match=r"source.csv:2: empty source$"):
        load_owsm_results(no_source)
