"""result.txt: the lines people grep (ESPnet's `grep -e Avg -e SPKR -m 2`, awk $11), totals, spread rows."""

import re

import pytest

from espnet_warmup.recipe.scoring.align import align
from espnet_warmup.recipe.scoring.sclite import (
    AvgRow,
    ScoredUtt,
    format_result_txt,
    parse_avg_line,
    read_result_txt,
)


def scored(spk, utt, ref, hyp):
    return ScoredUtt(spk, utt, align(ref.split(), hyp.split()))


UTTS = [
    scored("spk1", "spk1_u1", "a b c", "a x c d"),  # C2 S1 I1
    scored("spk1", "spk1_u2", "hello world", "hello world"),  # C2
    scored("speaker_two", "speaker_two_u1", "the cat sat", "cat sat"),  # C2 D1
]


@pytest.fixture
def result_txt():
    return format_result_txt(UTTS, "exp/decode/test/score_wer/hyp.trn")


def grep(text, *patterns, m=None):
    hits = [line for line in text.splitlines() if any(p in line for p in patterns)]
    return hits[:m] if m else hits


def test_grep_avg_finds_exactly_one_line_the_pooled_totals(result_txt):
    (line,) = grep(result_txt, "Avg")
    assert parse_avg_line(line) == AvgRow(3, 8, 75.0, 12.5, 12.5, 12.5, 37.5, 66.7)


def test_espnet_log_grep_gives_the_header_then_the_sum_avg_line(result_txt):
    header, total = grep(result_txt, "Avg", "SPKR", m=2)
    assert re.search(r"\| SPKR +\| # Snt # Wrd \|  Corr    Sub    Del    Ins    Err  S.Err \|$", header)
    assert re.search(r"\| Sum/Avg +\|     3     8 \|  75\.0   12\.5   12\.5   12\.5   37\.5   66\.7 \|$", total)


def test_awk_field_11_is_err_and_12_is_sentence_error(result_txt):
    (line,) = grep(result_txt, "Avg")
    fields = line.split()
    assert (fields[1], fields[10], fields[11]) == ("Sum/Avg", "37.5", "66.7")


def test_show_asr_result_style_row_keeps_eight_numbers(result_txt):
    (line,) = grep(result_txt, "Avg")
    numbers = line.replace("|", " ").replace("Sum/Avg", " ").split()
    assert numbers == ["3", "8", "75.0", "12.5", "12.5", "12.5", "37.5", "66.7"]


def _table_rows(text, title):
    """Rows (name, numbers) of the table under ``title``."""
    block = text.split(title, 1)[1].split("`", 1)[0]
    rows = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in ("SPKR", "") and not set(cells[0]) <= set("-=+"):
            rows[cells[0]] = [float(x) for x in (cells[1] + " " + cells[2]).split()]
    return rows


def test_speaker_rows_sum_to_the_total_row_in_the_counts_table(result_txt):
    rows = _table_rows(result_txt, "SYSTEM SUMMARY COUNTS by SPEAKER")
    speakers = [rows["spk1"], rows["speaker_two"]]
    assert rows["Sum"] == [sum(col) for col in zip(*speakers)]
    # Snt Wrd Corr Sub Del Ins Err S.Err
    assert rows["spk1"] == [2, 5, 4, 1, 0, 1, 2, 1]
    assert rows["speaker_two"] == [1, 3, 2, 0, 1, 0, 1, 1]


def test_percent_table_has_speaker_rates_and_sample_sd_over_speakers(result_txt):
    rows = _table_rows(result_txt, "SYSTEM SUMMARY PERCENTAGES by SPEAKER")
    assert rows["spk1"] == [2, 5, 80.0, 20.0, 0.0, 20.0, 40.0, 50.0]
    assert rows["speaker_two"] == [1, 3, 66.7, 0.0, 33.3, 0.0, 33.3, 100.0]
    assert rows["Mean"] == [1.5, 4.0, 73.3, 10.0, 16.7, 10.0, 36.7, 75.0]
    # sclite's S.D. is the sample standard deviation (n - 1): stdev(40, 33.3) = 4.7
    assert rows["S.D."] == [0.7, 1.4, 9.4, 14.1, 23.6, 14.1, 4.7, 35.4]
    assert rows["Median"] == rows["Mean"]


def test_alignment_dump_shows_scores_and_marks_errors(result_txt):
    dump = result_txt.split("DUMP OF SYSTEM ALIGNMENT STRUCTURE", 1)[1]
    block = dump.split("id: (spk1-spk1_u1)\n", 1)[1].split("\n\n", 1)[0]
    assert block.splitlines() == [
        "Scores: (#C #S #D #I) 2 1 0 1",
        "REF:  a B c *",
        "HYP:  a X c D",
        "Eval:   S   I",
    ]


def test_speaker_without_reference_words_gets_counts_and_a_footnote():
    text = format_result_txt([scored("s1", "u1", "a", "a"), scored("s2", "u2", "", "uh")], "hyp.trn")
    assert "* No reference words for speaker(s) s2: word counts supplied rather than percents." in text
    (line,) = grep(text, "Avg")
    assert parse_avg_line(line) == AvgRow(2, 1, 100.0, 0.0, 0.0, 100.0, 100.0, 50.0)


REAL_SCLITE = """\
                     SYSTEM SUMMARY PERCENTAGES by SPEAKER

      ,-----------------------------------------------------------------.
      |                            hyp.trn                              |
      |-----------------------------------------------------------------|
      | SPKR   | # Snt  # Wrd | Corr    Sub    Del    Ins    Err  S.Err |
      |--------+--------------+-----------------------------------------|
      | s1     |  200    1153 | 94.1    4.8    1.1    0.8    6.7   33.0 |
      |=================================================================|
      | Sum/Avg|  200    1153 | 94.1    4.8    1.1    0.8    6.7   33.0 |
      |=================================================================|
      |  Mean  |200.0  1153.0 | 94.1    4.8    1.1    0.8    6.7   33.0 |
"""


def test_reader_accepts_a_real_sclite_sum_avg_line_without_blank(tmp_path):
    p = tmp_path / "result.txt"
    p.write_text(REAL_SCLITE, encoding="utf-8")
    assert read_result_txt(p) == AvgRow(200, 1153, 94.1, 4.8, 1.1, 0.8, 6.7, 33.0)


def test_reader_round_trips_our_own_file(tmp_path, result_txt):
    p = tmp_path / "result.txt"
    p.write_text(result_txt, encoding="utf-8")
    assert read_result_txt(p).err == 37.5


def test_reader_without_avg_line_is_an_error_naming_the_file(tmp_path):
    p = tmp_path / "result.txt"
    p.write_text("nothing here\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"^{p}: no 'Sum/Avg' line \(is it a sclite result.txt\?\)$"):
        read_result_txt(p)


def test_malformed_avg_line_is_an_error_quoting_it():
    with pytest.raises(ValueError, match=r"^not a sclite Sum/Avg line \(expected 8 numbers\): '\| Sum/Avg\| 1 2 \|'$"):
        parse_avg_line("| Sum/Avg| 1 2 |")


def test_no_utterances_is_an_error():
    with pytest.raises(ValueError, match="^no utterances to report$"):
        format_result_txt([], "hyp.trn")


def test_long_system_name_widens_the_box_and_keeps_every_line_closed():
    name = "exp/asr_train_exp_warmup/decode_asr_model_valid.acc.ave/test/score_wer/hyp.trn"
    text = format_result_txt(UTTS, name)
    table = text.split("SYSTEM SUMMARY COUNTS", 1)[0].split(",", 1)[1].split("`", 1)[0]
    widths = {len(x.strip()) for x in table.splitlines()[1:] if x.strip()}
    assert len(widths) == 1 and widths.pop() == len(name) + 4
    assert f"| {name} |" in text
    (line,) = grep(text, "Avg")
    assert parse_avg_line(line) == AvgRow(3, 8, 75.0, 12.5, 12.5, 12.5, 37.5, 66.7)
