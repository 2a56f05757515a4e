"""Multiple-choice extraction on what a real 135M instruct model wrote (issue 18, fault 9)."""

import pytest

from pada.tasks.multiple_choice import extract_letter

ECHO = "A. a metal spoon\nB. a wooden stick\nC. a plastic fork\nD. a glass rod"


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            "B. is tempting, but the best answer is indeed D.",
            "D",
        ),  # cue words between "answer is" and the letter
        ("The best answer is indeed D.", "D"),
        ("The correct answer is option C.", "C"),
        ("The answer is most likely (B).", "B"),
        ("The best answer is clearly: **A**", "A"),
        ("The answer is choice 3", "3"),
        ("The answer is not A.", None),  # a negation is not a cue word
        ("The answer is probably a wooden stick", None),
        (ECHO, None),  # the option list echoed is no answer, not "A"
        (f"Options:\n{ECHO}\nI am not sure.", None),
        ("(A) a metal spoon\n(B) a wooden stick\n(C) a plastic fork", None),
        (f"{ECHO}\nThe best answer is B.", "B"),  # an echo followed by an answer
        ("B. because metals conduct heat", "B"),  # one leading option is still an answer
    ],
)
def test_cue_words_and_option_echoes(output, expected):
    assert extract_letter(output) == expected
