"""Alignment: hand-checkable cases, sclite's tie-breaking, and agreement with `editdistance`."""

import functools
import random

import editdistance

from espnet_warmup.recipe.scoring.align import align, edit_distance


def counts(ref: str, hyp: str) -> tuple[int, int, int, int]:
    a = align(ref.split(), hyp.split())
    return a.corr, a.sub, a.dele, a.ins


def test_identical_sequences_are_all_correct():
    a = align(["a", "b", "c"], ["a", "b", "c"])
    assert [op for op, _, _ in a.ops] == ["C", "C", "C"]
    assert a.errors == 0


def test_pure_substitution_is_one_sub_at_its_position():
    a = align("a b c".split(), "a x c".split())
    assert a.ops == (("C", "a", "a"), ("S", "b", "x"), ("C", "c", "c"))


def test_pure_deletion_names_the_deleted_reference_token():
    a = align("a b c".split(), "a c".split())
    assert a.ops == (("C", "a", "a"), ("D", "b", None), ("C", "c", "c"))


def test_pure_insertion_names_the_inserted_hypothesis_token():
    a = align("a c".split(), "a b c".split())
    assert a.ops == (("C", "a", "a"), ("I", None, "b"), ("C", "c", "c"))


def test_empty_hypothesis_is_all_deletions():
    assert counts("one two three", "") == (0, 0, 3, 0)


def test_empty_reference_utterance_is_all_insertions():
    assert counts("", "uh oh") == (0, 0, 0, 2)


def test_both_empty_is_no_operation():
    assert align([], []).ops == ()


def test_equal_error_alignments_prefer_fewer_substitutions_like_sclite():
    # "a b" -> "b c": S S and D C I both have 2 errors; sclite's weights pick D C I.
    a = align("a b".split(), "b c".split())
    assert a.ops == (("D", "a", None), ("C", "b", "b"), ("I", None, "c"))


def test_common_prefix_is_correct_so_a_repeated_token_loses_its_last_copy():
    assert align(["a", "a"], ["a"]).ops == (("C", "a", "a"), ("D", "a", None))


def test_remaining_ties_inside_are_broken_from_the_end_diagonal_first():
    # "p a a q" -> "r a s": 2 subs + 1 del either way. Walking back from the end the
    # diagonal wins each tie, so "a"/"r" is the substitution and "p" the deletion.
    assert align("p a a q".split(), "r a s".split()).ops == (
        ("D", "p", None),
        ("S", "a", "r"),
        ("C", "a", "a"),
        ("S", "q", "s"),
    )


def test_counts_are_consistent_with_sequence_lengths():
    a = align("the cat sat on the mat".split(), "a cat sat the mat down".split())
    assert a.corr + a.sub + a.dele == 6
    assert a.corr + a.sub + a.ins == 6
    assert (a.sub, a.dele, a.ins) == (1, 1, 1)


@functools.lru_cache(maxsize=None)
def _all_scores(ref: tuple, hyp: tuple) -> frozenset:
    """Every (errors, subs) reachable by some alignment: brute force, independent of the DP."""
    if not ref and not hyp:
        return frozenset({(0, 0)})
    out = set()
    if ref and hyp:
        same = ref[0] == hyp[0]
        out |= {(e + (not same), s + (not same)) for e, s in _all_scores(ref[1:], hyp[1:])}
    if ref:
        out |= {(e + 1, s) for e, s in _all_scores(ref[1:], hyp)}
    if hyp:
        out |= {(e + 1, s) for e, s in _all_scores(ref, hyp[1:])}
    return frozenset(out)


def test_alignment_minimises_errors_then_substitutions_by_brute_force():
    rng = random.Random(0)
    for _ in range(300):
        ref = tuple(rng.choice("abc") for _ in range(rng.randint(0, 5)))
        hyp = tuple(rng.choice("abc") for _ in range(rng.randint(0, 5)))
        a = align(ref, hyp)
        assert (a.errors, a.sub) == min(_all_scores(ref, hyp)), (ref, hyp)


def test_error_count_equals_the_editdistance_package_on_random_strings():
    rng = random.Random(1)
    for _ in range(500):
        ref = [rng.choice("abcd") for _ in range(rng.randint(0, 12))]
        hyp = [rng.choice("abcd") for _ in range(rng.randint(0, 12))]
        expected = editdistance.eval(ref, hyp)
        assert align(ref, hyp).errors == expected
        assert edit_distance(ref, hyp) == expected


def test_long_character_sequences_align_exactly():
    rng, n = random.Random(2), 200
    ref = [rng.choice("abcdefgh ") for _ in range(n)]
    hyp = [rng.choice("abcdefgh ") for _ in range(n)]
    assert align(ref, hyp).errors == editdistance.eval(ref, hyp)
