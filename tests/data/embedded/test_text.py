"""Text generators and the corpus plan: vocabulary sizes, determinism, held-out texts and speakers."""

import random

import pytest

from espnet_warmup.recipe.data.embedded import plan, text_digits, text_sentences
from espnet_warmup.recipe.data.embedded.voices import DEFAULT_VARIANTS, DEFAULT_VOICES, speaker_id


def test_digits_vocabulary_has_93_word_types_sharing_only_zero():
    en, it = text_digits.vocabulary("en"), text_digits.vocabulary("it")
    assert len(en) == 47 and len(it) == 47
    assert en & it == {"zero"}
    assert len(en | it) == 93
    assert len(text_digits.COMMAND_WORDS["en"]) == len(set(text_digits.COMMAND_WORDS["en"])) == 37
    assert len(text_digits.COMMAND_WORDS["it"]) == len(set(text_digits.COMMAND_WORDS["it"])) == 37


@pytest.mark.parametrize("lang", ["en", "it"])
def test_digits_generator_emits_every_word_and_nothing_else(lang):
    rng = random.Random(0)
    seen = set()
    for _ in range(3000):
        seen.update(text_digits.generate(rng, lang))
    assert seen == text_digits.vocabulary(lang)


@pytest.mark.parametrize("lang", ["en", "it"])
def test_sentences_generator_uses_a_few_hundred_lowercase_ascii_words(lang):
    vocab = text_sentences.vocabulary(lang)
    assert 200 <= len(vocab) <= 400
    rng = random.Random(0)
    lengths = []
    for _ in range(2000):
        words = text_sentences.generate(rng, lang)
        assert set(words) <= vocab
        assert all(w.isascii() and w.isalpha() and w.islower() for w in words)
        lengths.append(len(words))
    assert 7 <= sum(lengths) / len(lengths) <= 12


def test_italian_articles_and_adjectives_agree_with_the_noun_gender():
    rng = random.Random(3)
    for _ in range(500):
        words = text_sentences.generate(rng, "it")
        subject_gender = dict(text_sentences._IT_SUBJECTS)[words[1]]
        assert words[0] == ("il" if subject_gender == "m" else "la")
        if words[2] not in text_sentences._IT_VERBS:  # an adjective follows the subject
            assert not words[2].endswith("o" if subject_gender == "f" else "a")


def test_unknown_language_is_rejected_with_the_allowed_values():
    with pytest.raises(ValueError, match=r"unknown language 'fr'; allowed values: en, it"):
        text_digits.generate(random.Random(0), "fr")
    with pytest.raises(ValueError, match=r"unknown language 'fr'; allowed values: en, it"):
        text_sentences.generate(random.Random(0), "fr")


def _plan(seed=1, corpus="digits", sizes=None):
    sizes = sizes or {"train": 300, "dev": 60, "test": 60}
    return plan.plan_corpus(corpus, seed, sizes, DEFAULT_VOICES, DEFAULT_VARIANTS)


def test_plan_is_a_pure_function_of_the_seed():
    assert _plan(seed=1) == _plan(seed=1)
    assert [u.words for u in _plan(seed=1)["train"]] != [u.words for u in _plan(seed=2)["train"]]


def test_an_utterance_does_not_depend_on_the_size_of_its_split():
    small = {u.utt_id: u for u in _plan(sizes={"train": 50, "dev": 5, "test": 5})["train"]}
    large = {u.utt_id: u for u in _plan(sizes={"train": 80, "dev": 5, "test": 5})["train"]}
    assert all(large[utt_id] == utt for utt_id, utt in small.items())


def test_held_out_texts_never_occur_in_training_and_test_not_in_dev():
    plans = _plan(sizes={"train": 2000, "dev": 200, "test": 200})
    texts = {split: {(u.lang, u.text) for u in plans[split]} for split in plan.SPLITS}
    assert not texts["dev"] & texts["train"]
    assert not texts["test"] & (texts["train"] | texts["dev"])


def test_held_out_speakers_use_only_unseen_variants_and_cover_every_voice():
    plans = _plan()
    for split in plan.SPLITS:
        assert {u.variant for u in plans[split]} == set(DEFAULT_VARIANTS[split])
        assert {u.voice for u in plans[split]} == {v for vs in DEFAULT_VOICES.values() for v in vs}
    train_speakers = {u.speaker for u in plans["train"]}
    assert not train_speakers & {u.speaker for u in plans["test"]}
    assert not train_speakers & {u.speaker for u in plans["dev"]}


def test_languages_alternate_so_each_split_is_half_english_half_italian():
    plans = _plan()
    for split in plan.SPLITS:
        langs = [u.lang for u in plans[split]]
        assert langs.count("en") == langs.count("it")


def test_utterance_ids_start_with_the_speaker_id_and_are_c_sorted():
    for utts in _plan().values():
        ids = [u.utt_id for u in utts]
        assert ids == sorted(ids, key=lambda s: s.encode())
        assert all(u.utt_id.startswith(u.speaker + "-") for u in utts)
    assert speaker_id("en-gb-scotland", "m3") == "engbscotland-m3"


def test_synthesis_key_changes_with_any_audio_setting():
    utt = _plan()["test"][0]
    import dataclasses
    assert dataclasses.replace(utt, pitch=utt.pitch + 1).synthesis_key() != utt.synthesis_key()
    assert dataclasses.replace(utt, words=("uno",)).synthesis_key() != utt.synthesis_key()
    assert dataclasses.replace(utt).synthesis_key() == utt.synthesis_key()


def test_unknown_corpus_in_the_plan_lists_allowed_values():
    with pytest.raises(ValueError, match=r"unknown corpus 'foo'; allowed values: digits, sentences"):
        plan.plan_split("foo", 1, "train", 3, DEFAULT_VOICES, DEFAULT_VARIANTS)


def test_a_generator_too_small_for_the_held_out_set_is_an_error():
    plan.GENERATORS["tiny"] = lambda rng, lang: ["zero"]  # a generator with one text per language
    try:
        train = plan.plan_split("tiny", 1, "train", 2, DEFAULT_VOICES, DEFAULT_VARIANTS)
        seen = {f"{u.lang} {u.text}" for u in train}
        with pytest.raises(ValueError, match=r"could not draw a text for the test set unseen in training after 1000 tries"):
            plan.plan_split("tiny", 1, "test", 2, DEFAULT_VOICES, DEFAULT_VARIANTS, seen)
    finally:
        del plan.GENERATORS["tiny"]


def test_adaptation_sets_are_the_test_speakers_saying_texts_unseen_in_dev_and_test():
    plans = _plan(sizes={"train": 2000, "dev": 200, "test": 200})
    adapt = plan.plan_adaptation("digits", 1, {"adapt": 300, "adapt_dev": 60}, DEFAULT_VOICES, DEFAULT_VARIANTS, plans)
    assert [len(adapt[s]) for s in plan.ADAPT_SPLITS] == [300, 60]
    texts = {split: {(u.lang, u.text) for u in utts} for split, utts in {**plans, **adapt}.items()}
    assert not texts["adapt"] & (texts["dev"] | texts["test"])
    assert not texts["adapt_dev"] & (texts["dev"] | texts["test"] | texts["adapt"])
    test_speakers = {u.speaker for u in plans["test"]}
    for split in plan.ADAPT_SPLITS:
        assert {u.speaker for u in adapt[split]} == test_speakers  # every test speaker, and only them
        assert all(u.utt_id.startswith(f"{u.speaker}-{split}") for u in adapt[split])
    # Audio settings are drawn per (split, index): an adaptation utterance is not a copy of a test one.
    assert not {u.synthesis_key() for u in adapt["adapt"]} & {u.synthesis_key() for u in plans["test"]}
    # The main plan is what it is without the adaptation sets, and the sets are a function of the seed.
    assert plans == _plan(sizes={"train": 2000, "dev": 200, "test": 200})
    again = plan.plan_adaptation("digits", 1, {"adapt": 300, "adapt_dev": 60}, DEFAULT_VOICES, DEFAULT_VARIANTS, plans)
    assert again == adapt
    assert plan.plan_adaptation("digits", 1, {"adapt": 5}, DEFAULT_VOICES, DEFAULT_VARIANTS, plans)["adapt_dev"] == []


def test_an_adaptation_set_too_large_for_the_generator_names_the_sets_it_must_avoid():
    plan.GENERATORS["tiny"] = lambda rng, lang: ["zero"]
    try:
        plans = {"dev": plan.plan_split("tiny", 1, "dev", 2, DEFAULT_VOICES, DEFAULT_VARIANTS), "test": []}
        with pytest.raises(ValueError, match=r"could not draw a text for the adapt set unseen in dev and test after 1000"):
            plan.plan_adaptation("tiny", 1, {"adapt": 2}, DEFAULT_VOICES, DEFAULT_VARIANTS, plans)
    finally:
        del plan.GENERATORS["tiny"]
