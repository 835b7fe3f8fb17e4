"""Tests for chiso.core.text_codec (TCVN3 / VNI-Windows to Unicode).

Expected values are literal strings written out by hand (and, for the letter tables, derived a
second, independent way), so a wrong table row fails here rather than round-tripping silently.
"""

from __future__ import annotations

import unicodedata

import pytest

from chiso.core.text_codec import (
    VIETNAMESE_LETTERS,
    decode_legacy_bytes,
    detect_legacy,
    fix_text,
    tcvn3_to_unicode,
    unicode_to_tcvn3,
    unicode_to_vni,
    vni_to_unicode,
)

TONES = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")  # none, huyền, sắc, hỏi, ngã, nặng


def _all_letters() -> list[str]:
    """The 134 non-ASCII Vietnamese letters, built from base letters and combining marks."""
    lower = [unicodedata.normalize("NFC", base + tone) for base in "aăâeêioôơuưy" for tone in TONES]
    lower = [letter for letter in lower if not letter.isascii()] + ["đ"]
    return lower + [letter.upper() for letter in lower]


ALL_LETTERS = _all_letters()
UPPER_UNTONED = set("ĂÂÊÔƠƯĐ")

# TCVN3 lowercase letters in the order of the standard's code chart listing, written out
# independently of the module table.
TCVN3_LOWER = "¸µ¶·¹¨¾»¼½Æ©ÊÇÈÉËÐÌÎÏÑªÕÒÓÔÖÝ×ØÜÞãßáâä«èåæçé¬íêëìîóïñòô\xadøõö÷ùýúûüþ®"
UNICODE_LOWER = "áàảãạăắằẳẵặâấầẩẫậéèẻẽẹêếềểễệíìỉĩịóòỏõọôốồổỗộơớờởỡợúùủũụưứừửữựýỳỷỹỵđ"

# (Unicode, TCVN3, VNI); all lowercase-toned so TCVN3 is lossless.
KNOWN_WORDS = [
    ("Bảo Thắng", "B¶o Th¾ng", "Baûo Thaéng"),
    ("Hải Dương", "H¶i D\xad¬ng", "Haûi Döông"),
    ("Hòa Bình", "Hßa B×nh", "Hoøa Bình"),
    ("Hà Giang", "Hµ Giang", "Haø Giang"),
    ("Hải Phòng", "H¶i Phßng", "Haûi Phoøng"),
    ("Tuyên Quang", "Tuyªn Quang", "Tuyeân Quang"),
    ("Phú Thọ", "Phó Thä", "Phuù Thoï"),
    ("Sở Tư pháp", "Së T\xad ph¸p", "Sôû Tö phaùp"),
    ("Đăng ký khai sinh", "§¨ng ký khai sinh", "Ñaêng kyù khai sinh"),
    ("Người lập biểu", "Ng\xadêi lËp biÓu", "Ngöôøi laäp bieåu"),
    ("Tổng số", "Tæng sè", "Toång soá"),
    ("Uỷ ban nhân dân", "Uû ban nh©n d©n", "Uyû ban nhaân daân"),  # old-style tone placement
]


# --- the table -------------------------------------------------------------------------------


def test_table_has_every_letter_once() -> None:
    letters = [row[0] for row in VIETNAMESE_LETTERS]
    assert len(letters) == 134
    assert sorted(letters) == sorted(ALL_LETTERS)


def test_tcvn3_table_matches_independent_listing() -> None:
    assert len(TCVN3_LOWER) == len(UNICODE_LOWER) == 67
    assert tcvn3_to_unicode(TCVN3_LOWER) == UNICODE_LOWER
    assert unicode_to_tcvn3(UNICODE_LOWER) == TCVN3_LOWER
    assert tcvn3_to_unicode("¡¢£¤¥¦§") == "ĂÂÊÔƠƯĐ"


# VNI marks as combining characters: a second derivation of every VNI spelling.
_VNI_AS_COMBINING = {
    "ù": "\u0301", "ø": "\u0300", "û": "\u0309", "õ": "\u0303", "ï": "\u0323",
    "â": "\u0302", "á": "\u0302\u0301", "à": "\u0302\u0300", "å": "\u0302\u0309",
    "ã": "\u0302\u0303", "ä": "\u0302\u0323",
    "ê": "\u0306", "é": "\u0306\u0301", "è": "\u0306\u0300", "ú": "\u0306\u0309",
    "ü": "\u0306\u0303", "ë": "\u0306\u0323",
}  # fmt: skip
_VNI_SINGLE_LETTERS = {
    "ô": "ơ", "ö": "ư", "ñ": "đ", "ì": "ì", "í": "í", "æ": "ỉ", "ó": "ĩ", "ò": "ị", "î": "ỵ",
}  # fmt: skip


def _vni_by_combining_marks(vni: str) -> str:
    lower = vni.lower()
    if len(lower) == 1:
        letter = _VNI_SINGLE_LETTERS[lower]
    else:
        base = _VNI_SINGLE_LETTERS.get(lower[0], lower[0])
        letter = unicodedata.normalize("NFC", base + _VNI_AS_COMBINING[lower[1]])
    return letter.upper() if vni[0].isupper() else letter


@pytest.mark.parametrize("letter", ALL_LETTERS)
def test_vni_spelling_agrees_with_combining_mark_reading(letter: str) -> None:
    vni = unicode_to_vni(letter)
    assert 1 <= len(vni) <= 2
    assert _vni_by_combining_marks(vni) == letter


# --- known words -----------------------------------------------------------------------------


@pytest.mark.parametrize(("unicode", "tcvn3", "vni"), KNOWN_WORDS)
def test_known_words_both_ways(unicode: str, tcvn3: str, vni: str) -> None:
    assert tcvn3_to_unicode(tcvn3) == unicode
    assert vni_to_unicode(vni) == unicode
    assert unicode_to_tcvn3(unicode) == tcvn3
    assert unicode_to_vni(unicode) == vni


def test_uppercase_words() -> None:
    assert unicode_to_vni("Ủy ban nhân dân") == "UÛy ban nhaân daân"
    assert vni_to_unicode("UÛy ban nhaân daân") == "Ủy ban nhân dân"
    assert unicode_to_vni("ĐĂNG KÝ KHAI SINH") == "ÑAÊNG KYÙ KHAI SINH"
    assert vni_to_unicode("ÑAÊNG KYÙ KHAI SINH") == "ĐĂNG KÝ KHAI SINH"
    assert vni_to_unicode("Aùnh") == "Ánh"  # mark case differing from base case is tolerated
    assert tcvn3_to_unicode("§¡NG") == "ĐĂNG"  # untoned capitals have codes


def test_tcvn3_uppercase_toned_is_lossy() -> None:
    # "Ủ" has no TCVN3 code: .VnTimeH drew the lowercase code as a capital, so it comes back
    # lowercase. This is a property of TCVN3, asserted here so nobody "fixes" it by accident.
    assert unicode_to_tcvn3("Ủy ban nhân dân") == "ñy ban nh©n d©n"
    assert tcvn3_to_unicode("ñy ban nh©n d©n") == "ủy ban nhân dân"
    assert unicode_to_tcvn3("BÁO CÁO") == "B¸O C¸O"
    assert tcvn3_to_unicode("B¸O C¸O") == "BáO CáO"


# --- round trips of every letter -------------------------------------------------------------


@pytest.mark.parametrize("letter", ALL_LETTERS)
def test_vni_round_trip_every_letter(letter: str) -> None:
    encoded = unicode_to_vni(letter)
    assert encoded != letter or letter in "ìíÌÍ"  # VNI stores these four as themselves
    assert vni_to_unicode(encoded) == letter
    assert vni_to_unicode("x" + encoded + "x") == "x" + letter + "x"


@pytest.mark.parametrize("letter", [letter for letter in ALL_LETTERS if letter.islower()])
def test_tcvn3_round_trip_lowercase(letter: str) -> None:
    encoded = unicode_to_tcvn3(letter)
    assert len(encoded) == 1
    assert encoded != letter or letter == "ý"  # ý is the one letter TCVN3 stores as itself
    assert tcvn3_to_unicode(encoded) == letter


@pytest.mark.parametrize("letter", [letter for letter in ALL_LETTERS if letter.isupper()])
def test_tcvn3_uppercase_letters(letter: str) -> None:
    decoded = tcvn3_to_unicode(unicode_to_tcvn3(letter))
    if letter in UPPER_UNTONED:
        assert decoded == letter
    else:  # lossy by design: toned capitals share the lowercase code
        assert decoded == letter.lower()
        assert unicode_to_tcvn3(letter) == unicode_to_tcvn3(letter.lower())


def test_tcvn3_lossy_examples_literal() -> None:
    assert unicode_to_tcvn3("Ắ") == "¾"
    assert tcvn3_to_unicode("¾") == "ắ"
    assert unicode_to_tcvn3("Ơ") == "¥"
    assert unicode_to_tcvn3("Ớ") == "í"
    assert tcvn3_to_unicode("í") == "ớ"


# --- NFD input -------------------------------------------------------------------------------


def test_nfd_input_is_encoded_like_nfc() -> None:
    nfd = unicodedata.normalize("NFD", "Bảo Thắng, Hải Dương")
    assert nfd != "Bảo Thắng, Hải Dương"
    assert unicode_to_tcvn3(nfd) == "B¶o Th¾ng, H¶i D\xad¬ng"
    assert unicode_to_vni(nfd) == "Baûo Thaéng, Haûi Döông"
    assert fix_text(nfd) == "Bảo Thắng, Hải Dương"
    assert fix_text(nfd, encoding="none") == "Bảo Thắng, Hải Dương"


# --- detection -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "B¶o Th¾ng",
        "Uû ban nh©n d©n tØnh Hµ Giang",
        "Sè liÖu b¸o c¸o th¸ng 6/2024",
        "Ng\xadêi lËp biÓu",
        "§¨ng ký khai sinh",
        "H¶i D\xad¬ng",
        "Hßa B×nh",
        "Së T\xad ph¸p tØnh Tuyªn Quang",
        "B¸O C¸O",
    ],
)
def test_detects_tcvn3(text: str) -> None:
    assert detect_legacy(text) == "tcvn3"


@pytest.mark.parametrize(
    "text",
    [
        "Baûo Thaéng",
        "UÛy ban nhaân daân tænh Haø Giang",
        "Soá lieäu baùo caùo thaùng 6/2024",
        "Ngöôøi laäp bieåu",
        "Ñaêng kyù khai sinh",
        "Haûi Döông",
        "Hoøa Bình",
        "Phuù Thoï",
        "Toång soá",
        "UÛY BAN NHAÂN DAÂN",
    ],
)
def test_detects_vni(text: str) -> None:
    assert detect_legacy(text) == "vni"


UNICODE_VIETNAMESE = [
    "Bảo Thắng",
    "Hải Dương",
    "Hòa Bình",
    "Hà Giang",
    "Hải Phòng",
    "Tuyên Quang",
    "Phú Thọ",
    "Ủy ban nhân dân",
    "Sở Tư pháp",
    "Đăng ký khai sinh",
    "Người lập biểu",
    "Tổng số",
    "Hoàng",  # as VNI "oà" would read "Hồng"
    "Tây Ninh",
    "Cà Mau",
    "ĐĂNG KÝ KHAI SINH",
]


@pytest.mark.parametrize(
    "text",
    [
        *UNICODE_VIETNAMESE,
        *(unicodedata.normalize("NFD", text) for text in UNICODE_VIETNAMESE),
        "",
        "   ",
        "Report 2024",
        "12345",
        "1.234,56",
        "-17.5",
        "2024-06-30",
        "30/06/2024",
        "vanthu@haiduong.gov.vn",
        "café",
        "Müller",
        "naïve",
        "€ 100",
        "©",
        "© 2024 Sở TT&TT",
        "São Paulo",
        "não sé",
        "Crème brûlée",
        "Ångström",
        "Straße",
        "señor",
        "España",
        "Zoë",
        "5 µm",
        "«Bonjour»",
        "Coca-Cola®",
        "½ kg",
    ],
)
def test_no_false_positives(text: str) -> None:
    assert detect_legacy(text) is None
    assert fix_text(text) == unicodedata.normalize("NFC", text)


def test_documented_blind_spot() -> None:
    # Every character of "Phó Thä" / "Tæng sè" is an ordinary accented Latin-1 letter, so auto
    # detection leaves it alone; a caller who knows the file encoding must say so.
    assert detect_legacy("Phó Thä") is None
    assert fix_text("Phó Thä") == "Phó Thä"
    assert fix_text("Phó Thä", encoding="tcvn3") == "Phú Thọ"
    assert fix_text("Tæng sè", encoding="tcvn3") == "Tổng số"


# --- fix_text --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Uû ban nh©n d©n tØnh Hµ Giang", "Uỷ ban nhân dân tỉnh Hà Giang"),
        ("UÛy ban nhaân daân tænh Haø Giang", "Ủy ban nhân dân tỉnh Hà Giang"),
        ("Hải Dương", "Hải Dương"),
        ("Report 2024", "Report 2024"),
    ],
)
def test_fix_text_auto(text: str, expected: str) -> None:
    assert fix_text(text) == expected
    assert fix_text(expected) == expected


@pytest.mark.parametrize(
    "text", [*UNICODE_VIETNAMESE, "B¶o Th¾ng", "Baûo Thaéng", "Ng\xadêi lËp biÓu", "café"]
)
def test_fix_text_idempotent(text: str) -> None:
    once = fix_text(text)
    assert fix_text(once) == once
    assert unicodedata.is_normalized("NFC", once)


def test_fix_text_explicit_encodings() -> None:
    assert fix_text("B¶o Th¾ng", encoding="tcvn3") == "Bảo Thắng"
    assert fix_text("Baûo Thaéng", encoding="vni") == "Bảo Thắng"
    assert fix_text("B¶o Th¾ng", encoding="none") == "B¶o Th¾ng"
    with pytest.raises(ValueError, match="unknown encoding"):
        fix_text("x", encoding="viscii")  # type: ignore[arg-type]


# --- bytes -----------------------------------------------------------------------------------


def test_decode_legacy_bytes() -> None:
    tcvn3_bytes = b"B\xb6o Th\xbeng;H\xb6i D\xad\xacng\r\n"
    assert decode_legacy_bytes(tcvn3_bytes, "tcvn3") == "Bảo Thắng;Hải Dương\r\n"
    vni_bytes = b"Ba\xfbo Tha\xe9ng;Ha\xfbi D\xf6\xf4ng"
    assert decode_legacy_bytes(vni_bytes, "vni") == "Bảo Thắng;Hải Dương"
    # cp1252 punctuation stays punctuation; bytes cp1252 leaves undefined do not raise.
    assert decode_legacy_bytes(b"\x93H\xb5\x94 \x96 \x81", "tcvn3") == "\u201cHà\u201d \u2013 \x81"
    with pytest.raises(ValueError, match="unknown encoding"):
        decode_legacy_bytes(b"x", "utf-8")  # type: ignore[arg-type]


def test_decode_bytes_round_trip_with_encoders() -> None:
    text = "Đăng ký khai sinh, Người lập biểu"
    assert decode_legacy_bytes(unicode_to_vni(text).encode("cp1252"), "vni") == text
    assert decode_legacy_bytes(unicode_to_tcvn3(text).encode("cp1252"), "tcvn3") == text
