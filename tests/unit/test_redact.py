"""What an error may quote of a delivered value (chiso.core.redact)."""

from __future__ import annotations

from chiso.core.redact import quoted, shape


def test_a_value_that_could_be_personal_is_quoted_by_its_shape() -> None:
    assert quoted("0912345678/2025") == "a value shaped '9999999999/9999'"
    assert quoted("an@example.vn") == "a value shaped 'aa@aaaaaaa.aa'"
    assert quoted("001099012345") == "a value shaped '999999999999'"


def test_a_value_that_cannot_be_personal_is_quoted_as_it_is() -> None:
    assert quoted("31/02/2025") == "'31/02/2025'"
    assert quoted("Đã hủy") == "'Đã hủy'"


def test_the_shape_keeps_punctuation_and_folds_letters_with_their_marks() -> None:
    assert shape("Nguyễn Văn A, 12") == "aaaaaa aaa a, 99"
