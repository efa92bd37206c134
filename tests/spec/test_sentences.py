"""Cutting a streamed answer into sentences (``actors.assistant.sentences``).

What a listener notices: speech starts as soon as the first sentence is
whole, every word of the answer is spoken once and in order, and the
sentences they hear do not depend on how the model happened to cut its
stream into pieces.
"""

from __future__ import annotations

import itertools
import random

import pytest

from actors.assistant.sentences import MAX_SENTENCE_CHARS, Sentence, SentenceSplitter

ANSWER = "The capital of France is Paris. It is known for the Eiffel Tower! Want more? Ask me."


def split(pieces: list[str]) -> list[Sentence]:
    """Every sentence the splitter hands back for ``pieces``, flush included."""
    splitter = SentenceSplitter()
    sentences: list[Sentence] = []
    for piece in pieces:
        sentences += splitter.feed(piece)
    return sentences + splitter.flush()


def random_pieces(text: str, seed: int, longest: int = 12) -> list[str]:
    """``text`` cut at random places into pieces of 1..``longest`` characters."""
    rng = random.Random(seed)
    pieces: list[str] = []
    at = 0
    while at < len(text):
        size = rng.randint(1, longest)
        pieces.append(text[at : at + size])
        at += size
    return pieces


def texts(sentences: list[Sentence]) -> list[str]:
    return [sentence.text for sentence in sentences]


def test_a_sentence_is_released_as_soon_as_it_is_whole() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("The capital of ") == []
    assert splitter.feed("France is Paris.") == []  # "Paris." may go on ("Paris.com")
    first = splitter.feed(" It")
    assert texts(first) == ["The capital of France is Paris."]
    assert splitter.feed(" is big.") == []
    assert texts(splitter.flush()) == ["It is big."]
    assert splitter.flush() == []


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            ANSWER,
            [
                "The capital of France is Paris.",
                "It is known for the Eiffel Tower!",
                "Want more?",
                "Ask me.",
            ],
        ),
        ('He said "Go." Then left.', ['He said "Go."', "Then left."]),
        ("Wait... What?! Yes.", ["Wait...", "What?!", "Yes."]),
        ("It costs 3.50 euros. Cheap.", ["It costs 3.50 euros.", "Cheap."]),
        ("巴黎是首都。很大\uff01真的吗\uff1f", ["巴黎是首都。", "很大\uff01", "真的吗\uff1f"]),
        ("「巴黎。」很大。", ["「巴黎。」", "很大。"]),
        ("No punctuation at all", ["No punctuation at all"]),
        ("Line one.\nLine two.", ["Line one.", "Line two."]),
    ],
)
def test_sentences_end_at_end_punctuation_followed_by_space(
    answer: str, expected: list[str]
) -> None:
    assert texts(split([answer])) == expected


@pytest.mark.parametrize("seed", range(20))
def test_the_sentences_do_not_depend_on_how_the_stream_was_cut(seed: int) -> None:
    long_run = " ".join(["word"] * 90) + ". Short one."  # one sentence over the limit
    for answer in (ANSWER, long_run):
        whole = texts(split([answer]))
        assert texts(split(random_pieces(answer, seed))) == whole
        assert texts(split(list(answer))) == whole


@pytest.mark.parametrize("seed", range(10))
def test_the_spans_cover_the_answer_in_order_and_hold_its_text(seed: int) -> None:
    answer = ANSWER + "  Spaces   between.  "
    sentences = split(random_pieces(answer, seed))
    assert sentences[0].start == 0
    assert sentences[-1].end >= len(answer.rstrip())  # trailing blanks are no sentence
    for before, after in itertools.pairwise(sentences):
        assert before.end == after.start
    for sentence in sentences:
        assert answer[sentence.start : sentence.end].strip() == sentence.text
    assert " ".join(texts(sentences)).split() == answer.split()


def test_a_model_that_never_punctuates_still_starts_speaking() -> None:
    splitter = SentenceSplitter()
    released: list[Sentence] = []
    for _ in range(200):
        released += splitter.feed("blah ")
        if released:
            break
    assert released, "nothing released from 1000 characters without an end"
    assert all(len(sentence.text) <= MAX_SENTENCE_CHARS for sentence in released)
    assert released[0].text.endswith("blah")  # cut between words


def test_a_long_sentence_is_cut_at_a_space_however_it_arrives() -> None:
    long_sentence = " ".join(f"w{i}" for i in range(120)) + "."  # ~ 480 characters
    for pieces in ([long_sentence], list(long_sentence)):
        sentences = split(pieces)
        assert len(sentences) >= 2
        assert all(len(sentence.text) <= MAX_SENTENCE_CHARS for sentence in sentences)
        assert " ".join(texts(sentences)) == long_sentence  # cut between words only


def test_a_word_longer_than_the_limit_is_cut_at_the_limit() -> None:
    sentences = split(["x" * (MAX_SENTENCE_CHARS + 10)])
    assert [len(sentence.text) for sentence in sentences] == [MAX_SENTENCE_CHARS, 10]


def test_blank_pieces_release_nothing() -> None:
    assert split(["", "   ", "\n"]) == []
