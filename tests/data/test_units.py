"""Text normalisation, utterance ids and --corpus parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from espnet_warmup.recipe.data.base import CorpusSpecError, make_ids
from espnet_warmup.recipe.data.catalog import parse_spec
from espnet_warmup.recipe.data.sources.kaldi_dir import kaldi_role
from espnet_warmup.recipe.data.normalize import normalize_text


@pytest.mark.parametrize("raw, norm", [
    ("HE HOPED THERE WOULD BE STEW FOR DINNER", "he hoped there would be stew for dinner"),
    ("Mr. Smith-Jones (aged 42) said: \"Hello!\"", "mr smith jones aged 42 said hello"),
    ("L’uomo, dell'anno: «perché» sì!", "l'uomo dell'anno perché sì"),
    ("'quoted' don't", "quoted don't"),
    ("ÉCOLE  ﬁne\u00a0x", "école fine x"),
    ("?!", ""),
])
def test_normalisation_lowercases_and_drops_punctuation_but_keeps_word_apostrophes(raw, norm):
    assert normalize_text(raw) == norm
    assert normalize_text(norm) == norm  # idempotent: safe on references and hypotheses alike


def test_utterance_ids_start_with_their_speaker_and_sort_like_it():
    ids = [make_ids("mls", "it", spk, "10003_000000") for spk in ("48", "4800", "48_1", "4")]
    for utt, spk in ids:
        assert utt.startswith(spk + "-")
    # Kaldi needs utt2spk and spk2utt in the same C order.
    assert [s for _, s in sorted(ids, key=lambda p: p[0].encode())] == sorted((s for _, s in ids), key=str.encode)
    assert make_ids("fleurs", "en", "123.wav", "") == ("fleurs_en-123.wav", "fleurs_en-123.wav")
    assert make_ids("voxpopuli", "en", "a b", "x:y z") == ("voxpopuli_en-a_b-x_y_z", "voxpopuli_en-a_b")


def test_corpus_values_parse_into_corpus_language_or_kaldi_dir():
    assert (parse_spec("librispeech").reader.name, parse_spec("librispeech").lang) == ("librispeech", "en")
    assert (parse_spec("commonvoice_it").reader.name, parse_spec("commonvoice_it").lang) == ("commonvoice", "it")
    spec = parse_spec("kaldi:/data/test_clean:en")
    assert (spec.reader.path, spec.lang, spec.label) == (Path("/data/test_clean"), "en", "kaldi:/data/test_clean")
    assert parse_spec("kaldi:data/train").reader.path == Path("data/train")
    assert [kaldi_role(Path(p)) for p in ("data/test_a", "eval2000", "dev_x", "valid", "train", "x")] == [
        "test", "test", "dev", "dev", "train", "train"]
    with pytest.raises(CorpusSpecError, match=r"unknown --corpus 'librispeech_it'; allowed: digits, sentences, librispeech,"):
        parse_spec("librispeech_it")
