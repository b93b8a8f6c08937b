"""Miniature replicas of the published corpus layouts, generated inside the tests.

Each builder writes directory names, metadata files and audio formats as the corpus ships
them (a few utterances of 0.3-0.9 s of tone + noise) and returns what data prep must yield:
``{set name: {utt_id: (text, speaker, duration)}}`` with text as written to data/<set>/text
(language tag + normalised words).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

FORMATS = {".flac": ("FLAC", "PCM_16"), ".wav": ("WAV", "PCM_16"), ".ogg": ("OGG", "VORBIS"),
           ".opus": ("OGG", "OPUS"), ".mp3": ("MP3", "MPEG_LAYER_III")}


def write_audio(path: Path, seconds: float, rate: int = 16000, seed: int = 0) -> float:
    """Write a tone with light noise; return its duration as soundfile reports it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(round(seconds * rate))
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    x = 0.3 * np.sin(2 * np.pi * (200 + 50 * seed) * t) + 0.01 * rng.standard_normal(n)
    fmt, sub = FORMATS[path.suffix]
    sf.write(path, x.astype(np.float32), rate, format=fmt, subtype=sub)
    info = sf.info(path)
    return round(info.frames / info.samplerate, 3)


def librispeech(root: Path) -> dict:
    """$LIBRISPEECH/LibriSpeech/<split>/<spk>/<chapter>/<spk>-<chapter>-<utt>.flac + .trans.txt"""
    rows = {
        "train-clean-100": [("103", "1240", ["CHAPTER ONE MISSUS RACHEL LYNDE IS SURPRISED", "THAT HAD ITS SOURCE AWAY BACK"]),
                            ("1034", "121119", ["THE GIRL'S NAME WAS ANNE"])],
        "dev-clean": [("1272", "128104", ["MISTER QUILTER IS THE APOSTLE OF THE MIDDLE CLASSES"])],
        "test-clean": [("1089", "134686", ["HE HOPED THERE WOULD BE STEW FOR DINNER", "STUFF IT INTO YOU"])],
    }
    sets = {"train": {}, "dev": {}, "test_librispeech_en_test_clean": {}}
    target = {"train-clean-100": "train", "dev-clean": "dev", "test-clean": "test_librispeech_en_test_clean"}
    seed = 0
    for split, chapters in rows.items():
        for spk, chap, texts in chapters:
            d = root / "LibriSpeech" / split / spk / chap
            lines = []
            for i, text in enumerate(texts):
                native = f"{spk}-{chap}-{i:04d}"
                dur = write_audio(d / f"{native}.flac", 0.4 + 0.1 * i, seed=seed)
                seed += 1
                lines.append(f"{native} {text}")
                sets[target[split]][f"librispeech_en-{spk}-{chap}-{i:04d}"] = (
                    f"<en> {text.lower()}", f"librispeech_en-{spk}", dur)
            (d / f"{spk}-{chap}.trans.txt").write_text("\n".join(lines) + "\n")
    return sets


def mls(root: Path, lang: str = "it", opus: bool = False) -> dict:
    """$MLS/mls_<language>[_opus]/<split>/transcripts.txt + audio/<spk>/<book>/<spk>_<book>_<seg>.flac"""
    language = {"it": "italian", "en": "english"}[lang]
    ext = ".opus" if opus else ".flac"
    base = root / (f"mls_{language}" + ("_opus" if opus else ""))
    texts = {"train": [("1595", "1234", "la città di roma è bella"), ("280", "1001", "perché non vieni")],
             "dev": [("4974", "3001", "buona sera a tutti")],
             "test": [("1725", "2001", "il gatto dorme sul divano")]}
    if lang == "en":
        texts = {"train": [("4800", "10003", "the old man and the sea"), ("12", "1001", "a quiet evening")],
                 "dev": [("1673", "3001", "good night to all")], "test": [("2035", "2001", "the cat sleeps")]}
    sets: dict = {"train": {}, "dev": {}, f"test_mls_{lang}_test": {}}
    for split, rows in texts.items():
        lines = []
        for j, (spk, book, text) in enumerate(rows):
            native = f"{spk}_{book}_{j:06d}"
            dur = write_audio(base / split / "audio" / spk / book / f"{native}{ext}", 0.5, seed=j)
            lines.append(f"{native}\t{text}")
            target = split if split != "test" else f"test_mls_{lang}_test"
            sets[target][f"mls_{lang}-{spk}-{book}_{j:06d}"] = (f"<{lang}> {text}", f"mls_{lang}-{spk}", dur)
        (base / split).mkdir(parents=True, exist_ok=True)
        (base / split / "transcripts.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (base / split / "segments.txt").write_text("")  # shipped by MLS; not needed
    return sets


CV_HEADER = ["client_id", "path", "sentence_id", "sentence", "sentence_domain", "up_votes", "down_votes",
             "age", "gender", "accents", "variant", "locale", "segment"]


def commonvoice(root: Path, lang: str = "en", release: str = "cv-corpus-17.0-2024-03-15") -> dict:
    """$COMMONVOICE/cv-corpus-<ver>/<lang>/{train,dev,test}.tsv + clips/common_voice_<lang>_<n>.mp3 (48 kHz)"""
    base = root / release / lang
    sentences = {"train": ["Hello, World!", "It's a \"test\" sentence."], "dev": ["Good morning."],
                 "test": ["What time is it?"]}
    if lang == "it":
        sentences = {"train": ["Ciao, mondo!", "L'uomo è arrivato."], "dev": ["Buongiorno."], "test": ["Che ore sono?"]}
    from espnet_warmup.recipe.data.normalize import normalize_text

    sets: dict = {"train": {}, "dev": {}, f"test_commonvoice_{lang}_test": {}}
    n = 100
    for split, rows in sentences.items():
        lines = ["\t".join(CV_HEADER)]
        for i, sentence in enumerate(rows):
            n += 1
            client = f"{i:02d}" + "ab" * 63
            clip = f"common_voice_{lang}_{n}.mp3"
            dur = write_audio(base / "clips" / clip, 0.6, rate=48000, seed=n)
            row = dict.fromkeys(CV_HEADER, "")
            row.update(client_id=client, path=clip, sentence=sentence, locale=lang, up_votes="2", down_votes="0")
            lines.append("\t".join(row[c] for c in CV_HEADER))
            target = split if split != "test" else f"test_commonvoice_{lang}_test"
            spk = f"commonvoice_{lang}-{client[:16]}"
            sets[target][f"{spk}-common_voice_{lang}_{n}"] = (f"<{lang}> {normalize_text(sentence)}", spk, dur)
        (base / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (base / "validated.tsv").write_text("\t".join(CV_HEADER) + "\n")  # shipped; not a standard split
    return sets


def fleurs(root: Path, lang: str = "it") -> dict:
    """$FLEURS/<lang_code>/{train,dev,test}.tsv + audio/<split>/<n>.wav (HF google/fleurs data/ layout)"""
    code = {"en": "en_us", "it_it": "it_it", "it": "it_it"}[lang]
    raws = {"train": ["Il Sole è una stella.", "Roma, la capitale."], "dev": ["Ciao a tutti!"], "test": ["Due più due."]}
    if lang == "en":
        raws = {"train": ["The Sun is a star.", "Paris, the capital."], "dev": ["Hi all!"], "test": ["Two plus two."]}
    from espnet_warmup.recipe.data.normalize import normalize_text

    sets: dict = {"train": {}, "dev": {}, f"test_fleurs_{lang}_test": {}}
    n = 1000
    for split, rows in raws.items():
        lines = []
        for i, raw in enumerate(rows):
            n += 1
            wav = f"{n}7345120987.wav"
            dur = write_audio(root / code / "audio" / split / wav, 0.7, seed=i)
            norm = normalize_text(raw)  # FLEURS ships its own normalised column
            chars = " ".join("|" if c == " " else c for c in norm)
            lines.append("\t".join([str(1500 + i), wav, raw, norm, chars, str(int(dur * 16000)), "FEMALE"]))
            target = split if split != "test" else f"test_fleurs_{lang}_test"
            utt = f"fleurs_{lang}-{n}7345120987"
            sets[target][utt] = (f"<{lang}> {norm}", utt, dur)
        (root / code / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sets


VP_HEADER = ["id", "raw_text", "normalized_text", "speaker_id", "split", "gender", "is_gold_transcript", "accent"]


def voxpopuli(root: Path, lang: str = "en") -> dict:
    """$VOXPOPULI/transcribed_data/<lang>/asr_<split>.tsv + <year>/<id>.ogg (voxpopuli/get_asr_data.py)"""
    base = root / "transcribed_data" / lang
    rows = {"train": [("20180313-0900-PLENARY-15", "124745", "Mr President, I agree.", "mr president i agree"),
                      ("20190415-0900-PLENARY-3", "96", "Thank you.", "thank you")],
            "dev": [("20170116-0900-PLENARY-4", "1309", "We vote now.", "we vote now")],
            "test": [("20160707-0900-PLENARY-9", "28115", "The debate is closed.", "the debate is closed")]}
    sets: dict = {"train": {}, "dev": {}, f"test_voxpopuli_{lang}_test": {}}
    for split, items in rows.items():
        lines = ["\t".join(VP_HEADER)]
        for i, (session, spk, raw, norm) in enumerate(items):
            seg = f"{session}-{lang}_{session[:8]}-16:31:0{i}_{i}"
            dur = write_audio(base / seg[:4] / f"{seg}.ogg", 0.8, seed=i)
            lines.append("\t".join([seg, raw, norm, spk, split, "male", "True", "None"]))
            target = split if split != "test" else f"test_voxpopuli_{lang}_test"
            spk_id = f"voxpopuli_{lang}-{spk}"
            sets[target][f"{spk_id}-{seg.replace(':', '_')}"] = (f"<{lang}> {norm}", spk_id, dur)
        (base / f"asr_{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sets


def kaldi_segmented(root: Path, name: str = "train_seg") -> dict:
    """A segmented Kaldi dir (TEDLIUM/AMI style): wav.scp keyed by recording, ``segments``.

    ``recA``: a 3 s 16 kHz stereo wav, a plain path; ``recB``: a 2 s 8 kHz mono flac behind a
    pipe (``{ echo run >> counter; sox recB.flac -t wav -; } |``) that counts its runs in
    ``root/recB.runs``. Returns the dir, the recordings' samples (int16, frames x channels),
    and per utterance (recording, start, end, channel, text line, speaker, lang).
    """
    rng = np.random.default_rng(7)
    t16, t8 = np.arange(48000) / 16000, np.arange(16000) / 8000
    rec_a = np.stack([3000 * np.sin(2 * np.pi * 220 * t16), 2000 * np.sin(2 * np.pi * 330 * t16)], axis=1)
    rec_a = (rec_a + 300 * rng.standard_normal(rec_a.shape)).astype(np.int16)
    rec_b = (3000 * np.sin(2 * np.pi * 150 * t8) + 300 * rng.standard_normal(t8.shape)).astype(np.int16)[:, None]
    root.mkdir(parents=True, exist_ok=True)
    sf.write(root / "recA.wav", rec_a, 16000, subtype="PCM_16")
    sf.write(root / "recB.flac", rec_b, 8000, subtype="PCM_16")
    counter = root / "recB.runs"
    utts = {  # utt: (recording, start, end, channel, text as written, speaker, language)
        "spk1-a1": ("recA", 0.0, 0.75, None, "Hello, one!", "spk1", "en"),
        "spk1-a2": ("recA", 0.75, 1.63, None, "hello two", "spk1", "en"),
        "spk2-a3": ("recA", 1.2, 2.0, None, "<it> Ciao tre", "spk2", "it"),  # overlaps a2
        "spk2-a4": ("recA", 2.5, 3.2, 1, "four", "spk2", "en"),  # channel 1 only; 0.2 s past the end: clipped
        "spk3-b1": ("recB", 0.1, 0.9, None, "five", "spk3", "en"),
        "spk3-b2": ("recB", 1.0, 1.9, None, "six", "spk3", "en"),
    }
    d = root / name
    d.mkdir()
    (d / "wav.scp").write_text(f"recA {root / 'recA.wav'}\n"
                               f"recB {{ echo run >> {counter}; sox {root / 'recB.flac'} -t wav -; }} |\n")
    (d / "segments").write_text("".join(
        f"{u} {rec} {s} {e}" + (f" {ch}" if ch is not None else "") + "\n" for u, (rec, s, e, ch, *_) in utts.items()))
    (d / "text").write_text("".join(f"{u} {v[4]}\n" for u, v in utts.items()))
    (d / "utt2spk").write_text("".join(f"{u} {v[5]}\n" for u, v in utts.items()))
    return {"dir": d, "recordings": {"recA": (rec_a, 16000), "recB": (rec_b, 8000)}, "counter": counter, "utts": utts}
