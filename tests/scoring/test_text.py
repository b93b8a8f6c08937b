"""Kaldi file reading, token removal, cleaners, char tokens, trn lines."""

import pytest

from espnet_warmup.recipe.scoring.text import (
    ScoringInputError,
    char_tokens,
    clean,
    clean_lower_punct,
    prepare,
    read_kaldi_map,
    remove_tokens,
)
from espnet_warmup.recipe.scoring.trn import format_trn_line, read_trn, write_trn


def test_kaldi_text_keeps_empty_transcripts_and_the_rest_of_the_line(tmp_path):
    p = tmp_path / "text"
    p.write_text("u1 hello  big world\nu2\n\nu3 x\n", encoding="utf-8")
    assert read_kaldi_map(p, "hyp") == {"u1": "hello  big world", "u2": "", "u3": "x"}


def test_duplicate_id_is_an_error_naming_file_and_line(tmp_path):
    p = tmp_path / "text"
    p.write_text("u1 a\nu1 b\n", encoding="utf-8")
    with pytest.raises(ScoringInputError, match=rf"^ref file {p}:2: duplicate key 'u1' \(first at {p}:1\)$"):
        read_kaldi_map(p, "ref")


def test_missing_file_is_an_error_naming_its_role(tmp_path):
    with pytest.raises(ScoringInputError, match=rf"^utt2spk file not found: {tmp_path}/nope$"):
        read_kaldi_map(tmp_path / "nope", "utt2spk")


def test_utt2spk_line_without_speaker_is_an_error(tmp_path):
    p = tmp_path / "utt2spk"
    p.write_text("u1 s1\nu2\n", encoding="utf-8")
    with pytest.raises(ScoringInputError, match=rf"^utt2spk file {p}:2: key 'u2' has no value$"):
        read_kaldi_map(p, "utt2spk", allow_empty_value=False)


def test_language_tokens_are_removed_as_whole_words_only():
    assert remove_tokens("<en> turn <en>left  now", {"<en>", "<it>"}) == "turn <en>left now"


def test_lower_punct_drops_punctuation_but_keeps_word_internal_apostrophes():
    assert clean_lower_punct("Hello, World! L'uomo don\u2019t 'quoted'.") == "hello world l'uomo don't quoted"


def test_none_cleaner_only_collapses_whitespace():
    assert clean("  Hello,   World ", "none") == "Hello, World"


def test_unknown_cleaner_is_an_error_listing_the_choices():
    with pytest.raises(ScoringInputError, match=r"^--cleaner must be one of none, lower_punct, got 'upper'$"):
        clean("x", "upper")


def test_prepare_removes_tokens_before_cleaning():
    assert prepare("<it> Uno, DUE", {"<it>"}, "lower_punct") == "uno due"


def test_char_tokens_map_word_boundaries_to_space_symbol_once():
    assert char_tokens("ab  cd") == ["a", "b", "<space>", "c", "d"]
    assert char_tokens("") == []


def test_trn_line_is_tokens_tab_spk_utt():
    assert format_trn_line(["a", "b"], "spk1", "spk1_u1") == "a b\t(spk1-spk1_u1)"
    assert format_trn_line([], "s", "u") == "\t(s-u)"


def test_trn_file_round_trips(tmp_path):
    p = tmp_path / "ref.trn"
    write_trn(p, [("s1", "u1", ["x", "y"]), ("s2", "u2", [])])
    assert p.read_text(encoding="utf-8") == "x y\t(s1-u1)\n\t(s2-u2)\n"
    assert read_trn(p) == [("s1-u1", ["x", "y"]), ("s2-u2", [])]


def test_trn_line_without_id_is_an_error(tmp_path):
    p = tmp_path / "bad.trn"
    p.write_text("a b c\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.trn:1: not a trn line"):
        read_trn(p)
