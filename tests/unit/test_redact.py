"""What an error may quote of a delivered value (chiso.core.redact)."""

from __future__ import annotations

from chiso.core.redact import quoted, scrub, shape


def test_a_value_that_could_be_personal_is_quoted_by_its_shape() -> None:
    assert quoted("0912345678/2025") == "a value shaped '9999999999/9999'"
    assert quoted("an@example.vn") == "a value shaped 'aa@aaaaaaa.aa'"
    assert quoted("001099012345") == "a value shaped '999999999999'"


def test_a_value_that_cannot_be_personal_is_quoted_as_it_is() -> None:
    assert quoted("31/02/2025") == "'31/02/2025'"
    assert quoted("Đã hủy") == "'Đã hủy'"


def test_the_shape_keeps_punctuation_and_folds_letters_with_their_marks() -> None:
    assert shape("Nguyễn Văn A, 12") == "aaaaaa aaa a, 99"


def test_free_text_loses_credentials_and_personal_tokens_but_keeps_the_rest() -> None:
    text = (
        "connection to postgresql://chiso_loader:s3cr3t@db.example.vn:5432/chiso failed;"
        " row of 001099012345 (an@example.vn) in tong-hop_02_2020-01.xlsx, line 12"
    )
    out = scrub(text)
    assert "s3cr3t" not in out and "chiso_loader" not in out
    assert "001099012345" not in out and "an@example.vn" not in out
    assert "postgresql://…@db.example.vn:5432/chiso" in out
    assert "999999999999" in out and "aa@aaaaaaa.aa" in out
    # what an operator needs stays: the file, the line, short numbers
    assert "tong-hop_02_2020-01.xlsx, line 12" in out
