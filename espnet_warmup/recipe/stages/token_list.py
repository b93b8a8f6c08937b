"""Stage 5: token lists in ESPnet's format, for ``--token_type bpe|char|word``.

ESPnet's ``tokens.txt`` has one token per line; the line number is the token id:
``<blank>`` (id 0, the CTC blank), ``<unk>`` (id 1), the corpus tokens, and ``<sos/eos>``
last. Non-linguistic symbols such as the language tags ``<en>``/``<it>`` stay whole:

- bpe: a sentencepiece model trained through its Python API (there is no ``spm_train``
  binary in the pip wheel) with the symbols as ``user_defined_symbols``; the list is the
  spm pieces minus spm's own ``<unk>``, ``<s>``, ``</s>``.
- char: characters, with ``<space>`` for the blank between words (ESPnet's CharTokenizer).
- word: whitespace-separated words.
For char and word the tokens are ordered by descending count (ties in C order), as
ESPnet's ``tokenize_text --write_vocabulary`` does.

Command line::

    python -m espnet_warmup.recipe.stages.token_list --token-type bpe --nbpe 100 --bpemode unigram \\
        --text dump/raw/train/text --nlsyms-out data/nlsyms.txt --outdir data/token_list/bpe_unigram100
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from espnet_warmup.recipe.atomic import atomic_dir, atomic_write_text
from espnet_warmup.recipe.datadir import NLSYM_RE, read_kv

BLANK, UNK, SOS_EOS, SPACE = "<blank>", "<unk>", "<sos/eos>", "<space>"


def find_nlsyms(transcripts: list[str]) -> list[str]:
    """Whole words of the form ``<...>`` (language tags etc.), sorted."""
    return sorted({w for t in transcripts for w in t.split() if NLSYM_RE.match(w)})


def char_tokens(text: str, nlsyms: list[str]) -> list[str]:
    """ESPnet CharTokenizer: characters, ``<space>`` for spaces, non-linguistic symbols whole."""
    out, i = [], 0
    by_len = sorted(nlsyms, key=len, reverse=True)
    while i < len(text):
        for sym in by_len:
            if text.startswith(sym, i):
                out.append(sym)
                i += len(sym)
                break
        else:
            ch = text[i]
            out.append(SPACE if ch == " " else ch)
            i += 1
    return out


def counted_vocabulary(token_lists) -> list[str]:
    """Distinct tokens by descending count, ties in C order."""
    counts = Counter(tok for toks in token_lists for tok in toks)
    return [t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].encode("utf-8")))]


def espnet_token_list(corpus_tokens: list[str]) -> list[str]:
    """``<blank>``, ``<unk>``, the corpus tokens (minus any of the specials), ``<sos/eos>``."""
    special = {BLANK, UNK, SOS_EOS}
    return [BLANK, UNK] + [t for t in corpus_tokens if t not in special] + [SOS_EOS]


def train_bpe(transcripts: list[str], nbpe: int, bpemode: str, nlsyms: list[str], outdir: Path,
              character_coverage: float = 1.0, input_sentence_size: int = 100_000_000) -> list[str]:
    """Train sentencepiece on ``transcripts``; write ``outdir/bpe.model``; return the pieces."""
    import sentencepiece as spm

    outdir.mkdir(parents=True, exist_ok=True)
    train_txt = outdir / "train.txt"
    train_txt.write_text("".join(t + "\n" for t in transcripts), encoding="utf-8")
    try:
        spm.SentencePieceTrainer.train(
            input=str(train_txt), vocab_size=nbpe, model_type=bpemode, model_prefix=str(outdir / "bpe"),
            character_coverage=character_coverage, input_sentence_size=input_sentence_size,
            user_defined_symbols=nlsyms or None, minloglevel=2)
    except RuntimeError as err:
        # e.g. "Vocabulary size too high (500). Please set it to a value <= 212."
        raise ValueError(f"sentencepiece could not train --nbpe {nbpe} --bpemode {bpemode}: {err}") from None
    finally:
        train_txt.unlink(missing_ok=True)
    sp = spm.SentencePieceProcessor(model_file=str(outdir / "bpe.model"))
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    # spm's own specials (<unk>, <s>, </s>) are replaced by ESPnet's.
    return [p for i, p in enumerate(pieces) if not (sp.is_unknown(i) or sp.is_control(i))]


def make_token_list(text_file, token_type: str, outdir, nbpe: int = 30, bpemode: str = "unigram",
                    nlsyms: list[str] | None = None) -> list[str]:
    """Build the token list of ``token_type`` from a Kaldi ``text`` file into ``outdir``.

    Writes ``tokens.txt`` (and ``bpe.model`` for bpe); ``outdir`` is replaced whole, atomically.
    Returns the token list.
    """
    transcripts = list(read_kv(text_file).values())
    if not transcripts:
        raise ValueError(f"{text_file}: no transcripts to build a token list from")
    if nlsyms is None:
        nlsyms = find_nlsyms(transcripts)
    with atomic_dir(outdir) as work:
        if token_type == "bpe":
            if bpemode not in ("unigram", "bpe", "char", "word"):
                raise ValueError(f"--bpemode must be one of unigram, bpe, char, word; got {bpemode!r}")
            corpus = train_bpe(transcripts, nbpe, bpemode, nlsyms, work)
        elif token_type == "char":
            corpus = counted_vocabulary(char_tokens(t, nlsyms) for t in transcripts)
        elif token_type == "word":
            corpus = counted_vocabulary(t.split() for t in transcripts)
        else:
            raise ValueError(f"--token_type must be one of bpe, char, word; got {token_type!r}")
        tokens = espnet_token_list(corpus)
        (work / "tokens.txt").write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
    return tokens


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m espnet_warmup.recipe.stages.token_list", description=__doc__.splitlines()[0])
    p.add_argument("--token-type", required=True, choices=["bpe", "char", "word"])
    p.add_argument("--nbpe", type=int, default=30)
    p.add_argument("--bpemode", default="unigram")
    p.add_argument("--text", required=True, help="Kaldi text file (utt transcript)")
    p.add_argument("--nlsyms", default=None,
                   help="file with one non-linguistic symbol per line; default: every <...> word of the text")
    p.add_argument("--nlsyms-out", default=None, help="write the symbols used here (one per line)")
    p.add_argument("--outdir", required=True)
    args = p.parse_args(argv)
    try:
        nlsyms = None
        if args.nlsyms:
            nlsyms = [ln.strip() for ln in Path(args.nlsyms).read_text(encoding="utf-8").splitlines() if ln.strip()]
        else:
            nlsyms = find_nlsyms(list(read_kv(args.text).values()))
        if args.nlsyms_out:
            out = Path(args.nlsyms_out)
            out.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(out, "".join(s + "\n" for s in nlsyms))
        tokens = make_token_list(args.text, args.token_type, args.outdir, args.nbpe, args.bpemode, nlsyms)
    except (ValueError, OSError) as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    print(f"token_list: {len(tokens)} tokens ({args.token_type}) -> {args.outdir}/tokens.txt", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
