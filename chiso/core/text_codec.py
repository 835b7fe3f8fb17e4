"""Convert Vietnamese text written in legacy 8-bit font encodings (TCVN3, VNI) to Unicode.

Commune and district offices produced spreadsheets and CSV exports for years with "font
encodings": the file stores ordinary cp1252/Latin-1 characters and only a special font (``.VnTime``
for TCVN3/ABC, ``VNI-Times`` for VNI-Windows) draws them as Vietnamese letters. Read by any modern
tool such text is mojibake (``B¶o Th¾ng``, ``Baûo Thaéng`` for "Bảo Thắng"), so it must be converted
before names can be matched against reference data.

Everything is derived from :data:`VIETNAMESE_LETTERS`, one reviewable table with a row per
Vietnamese letter. Conversion is a ``str.translate`` (plus, for VNI, one compiled regex for the
two-character base+mark sequences) because it runs on every cell of large files.

Known limits (by design of the encodings, not of this module):

* TCVN3 has no codes for uppercase toned letters. Documents wrote them with the ``.VnTimeH`` font,
  which draws the *lowercase* codes as capitals, so "Ủ" and "ủ" are the same code and decoding
  always yields the lowercase letter. Encoding an uppercase toned letter is therefore lossy.
  (The seven untoned uppercase letters Ă Â Ê Ô Ơ Ư Đ do have codes and round-trip.)
* Characters of the code page that are not Vietnamese letters (``ü``, ``©`` ...) are read as the
  Vietnamese letter sharing their code when decoding; the encoders pass non-Vietnamese text
  through unchanged, so such characters do not survive an encode/decode round trip.
* Decoding does not change tone placement: old-style ``Uû ban`` becomes "Uỷ ban", not "Ủy ban".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Final, Literal

__all__ = [
    "VIETNAMESE_LETTERS",
    "decode_legacy_bytes",
    "detect_legacy",
    "fix_text",
    "tcvn3_to_unicode",
    "unicode_to_tcvn3",
    "unicode_to_vni",
    "vni_to_unicode",
]

LegacyEncoding = Literal["tcvn3", "vni"]

# (Unicode letter, TCVN3 code as the cp1252 character of its byte, VNI-Windows spelling).
# Left column: lowercase letter, right column: its uppercase. Order per vowel: no tone, then
# grave (huyền), acute (sắc), hook (hỏi), tilde (ngã), dot below (nặng). Plain a e i o u y are
# ASCII in both encodings and therefore not listed; the 134 rows are every other letter.
# TCVN3 uppercase toned letters reuse the lowercase code (see module docstring): lossy.
# "\xad" (soft hyphen, byte 0xAD) is TCVN3 "ư".
# fmt: off
VIETNAMESE_LETTERS: Final[tuple[tuple[str, str, str], ...]] = (
    ("à", "µ", "aø"),       ("À", "µ", "AØ"),
    ("á", "¸", "aù"),       ("Á", "¸", "AÙ"),
    ("ả", "¶", "aû"),       ("Ả", "¶", "AÛ"),
    ("ã", "·", "aõ"),       ("Ã", "·", "AÕ"),
    ("ạ", "¹", "aï"),       ("Ạ", "¹", "AÏ"),
    ("ă", "¨", "aê"),       ("Ă", "¡", "AÊ"),
    ("ằ", "»", "aè"),       ("Ằ", "»", "AÈ"),
    ("ắ", "¾", "aé"),       ("Ắ", "¾", "AÉ"),
    ("ẳ", "¼", "aú"),       ("Ẳ", "¼", "AÚ"),
    ("ẵ", "½", "aü"),       ("Ẵ", "½", "AÜ"),
    ("ặ", "Æ", "aë"),       ("Ặ", "Æ", "AË"),
    ("â", "©", "aâ"),       ("Â", "¢", "AÂ"),
    ("ầ", "Ç", "aà"),       ("Ầ", "Ç", "AÀ"),
    ("ấ", "Ê", "aá"),       ("Ấ", "Ê", "AÁ"),
    ("ẩ", "È", "aå"),       ("Ẩ", "È", "AÅ"),
    ("ẫ", "É", "aã"),       ("Ẫ", "É", "AÃ"),
    ("ậ", "Ë", "aä"),       ("Ậ", "Ë", "AÄ"),
    ("è", "Ì", "eø"),       ("È", "Ì", "EØ"),
    ("é", "Ð", "eù"),       ("É", "Ð", "EÙ"),
    ("ẻ", "Î", "eû"),       ("Ẻ", "Î", "EÛ"),
    ("ẽ", "Ï", "eõ"),       ("Ẽ", "Ï", "EÕ"),
    ("ẹ", "Ñ", "eï"),       ("Ẹ", "Ñ", "EÏ"),
    ("ê", "ª", "eâ"),       ("Ê", "£", "EÂ"),
    ("ề", "Ò", "eà"),       ("Ề", "Ò", "EÀ"),
    ("ế", "Õ", "eá"),       ("Ế", "Õ", "EÁ"),
    ("ể", "Ó", "eå"),       ("Ể", "Ó", "EÅ"),
    ("ễ", "Ô", "eã"),       ("Ễ", "Ô", "EÃ"),
    ("ệ", "Ö", "eä"),       ("Ệ", "Ö", "EÄ"),
    ("ì", "×", "ì"),        ("Ì", "×", "Ì"),
    ("í", "Ý", "í"),        ("Í", "Ý", "Í"),
    ("ỉ", "Ø", "æ"),        ("Ỉ", "Ø", "Æ"),
    ("ĩ", "Ü", "ó"),        ("Ĩ", "Ü", "Ó"),
    ("ị", "Þ", "ò"),        ("Ị", "Þ", "Ò"),
    ("ò", "ß", "oø"),       ("Ò", "ß", "OØ"),
    ("ó", "ã", "où"),       ("Ó", "ã", "OÙ"),
    ("ỏ", "á", "oû"),       ("Ỏ", "á", "OÛ"),
    ("õ", "â", "oõ"),       ("Õ", "â", "OÕ"),
    ("ọ", "ä", "oï"),       ("Ọ", "ä", "OÏ"),
    ("ô", "«", "oâ"),       ("Ô", "¤", "OÂ"),
    ("ồ", "å", "oà"),       ("Ồ", "å", "OÀ"),
    ("ố", "è", "oá"),       ("Ố", "è", "OÁ"),
    ("ổ", "æ", "oå"),       ("Ổ", "æ", "OÅ"),
    ("ỗ", "ç", "oã"),       ("Ỗ", "ç", "OÃ"),
    ("ộ", "é", "oä"),       ("Ộ", "é", "OÄ"),
    ("ơ", "¬", "ô"),        ("Ơ", "¥", "Ô"),
    ("ờ", "ê", "ôø"),       ("Ờ", "ê", "ÔØ"),
    ("ớ", "í", "ôù"),       ("Ớ", "í", "ÔÙ"),
    ("ở", "ë", "ôû"),       ("Ở", "ë", "ÔÛ"),
    ("ỡ", "ì", "ôõ"),       ("Ỡ", "ì", "ÔÕ"),
    ("ợ", "î", "ôï"),       ("Ợ", "î", "ÔÏ"),
    ("ù", "ï", "uø"),       ("Ù", "ï", "UØ"),
    ("ú", "ó", "uù"),       ("Ú", "ó", "UÙ"),
    ("ủ", "ñ", "uû"),       ("Ủ", "ñ", "UÛ"),
    ("ũ", "ò", "uõ"),       ("Ũ", "ò", "UÕ"),
    ("ụ", "ô", "uï"),       ("Ụ", "ô", "UÏ"),
    ("ư", "\xad", "ö"),     ("Ư", "¦", "Ö"),
    ("ừ", "õ", "öø"),       ("Ừ", "õ", "ÖØ"),
    ("ứ", "ø", "öù"),       ("Ứ", "ø", "ÖÙ"),
    ("ử", "ö", "öû"),       ("Ử", "ö", "ÖÛ"),
    ("ữ", "÷", "öõ"),       ("Ữ", "÷", "ÖÕ"),
    ("ự", "ù", "öï"),       ("Ự", "ù", "ÖÏ"),
    ("ỳ", "ú", "yø"),       ("Ỳ", "ú", "YØ"),
    ("ý", "ý", "yù"),       ("Ý", "ý", "YÙ"),
    ("ỷ", "û", "yû"),       ("Ỷ", "û", "YÛ"),
    ("ỹ", "ü", "yõ"),       ("Ỹ", "ü", "YÕ"),
    ("ỵ", "þ", "î"),        ("Ỵ", "þ", "Î"),
    ("đ", "®", "ñ"),        ("Đ", "§", "Ñ"),
)
# fmt: on

_TONE_MARKS: Final = frozenset("\u0300\u0301\u0303\u0309\u0323")


def _build_tables() -> tuple[
    dict[int, str], dict[int, str], dict[int, str], dict[int, str], dict[str, str]
]:
    """Derive the translate tables from VIETNAMESE_LETTERS, refusing an inconsistent table.

    The checks run once at import: a typo in the table (a duplicated code, a VNI spelling that
    is not base letter + mark) fails loudly instead of silently corrupting data.
    """
    tcvn3_encode: dict[int, str] = {}
    tcvn3_decode: dict[int, str] = {}
    tcvn3_users: dict[str, set[str]] = {}
    vni_encode: dict[int, str] = {}
    vni_singles: dict[int, str] = {}
    vni_pairs: dict[str, str] = {}
    for letter, tcvn3, vni in VIETNAMESE_LETTERS:
        if unicodedata.normalize("NFC", letter) != letter or len(letter) != 1:
            raise ValueError(f"table letter {letter!r} is not one NFC character")
        if len(tcvn3) != 1 or tcvn3.isascii():
            raise ValueError(f"TCVN3 code for {letter!r} must be one non-ASCII character")
        tcvn3_encode[ord(letter)] = tcvn3
        users = tcvn3_users.setdefault(tcvn3, set())
        users.add(letter)
        # A code may only be shared by a lowercase letter and its uppercase (toned letters, the
        # .VnTimeH convention); it then decodes to the lowercase one.
        if len({user.lower() for user in users}) != 1:
            raise ValueError(f"TCVN3 code {tcvn3!r} is used by {sorted(users)}")
        tcvn3_decode[ord(tcvn3)] = min(users, key=str.isupper)
        vni_encode[ord(letter)] = vni
        if len(vni) == 1:
            if vni.isascii() or ord(vni) in vni_singles:
                raise ValueError(f"bad or duplicate VNI code for {letter!r}")
            vni_singles[ord(vni)] = letter
    for letter, _tcvn3, vni in VIETNAMESE_LETTERS:
        if len(vni) == 1:
            continue
        if len(vni) != 2 or ord(vni[1]) in vni_singles:
            raise ValueError(f"VNI spelling of {letter!r} is not base letter + one mark")
        # Single-character letters are translated first, so a pair such as "ôù" (ớ) is looked up
        # in its translated form "ơù".
        base = vni[0].translate(vni_singles)
        mark = vni[1]
        for key in (base + mark, base + mark.swapcase()):  # tolerate "Aù" as well as "AÙ"
            if vni_pairs.setdefault(key, letter) != letter:
                raise ValueError(f"VNI sequence {key!r} is ambiguous")
    return tcvn3_encode, tcvn3_decode, vni_encode, vni_singles, vni_pairs


_TCVN3_ENCODE, _TCVN3_DECODE, _VNI_ENCODE, _VNI_SINGLES, _VNI_PAIRS = _build_tables()
# Non-ASCII characters each encoding uses; for VNI the marks are the second pair characters.
_TCVN3_CHARS: Final = frozenset(chr(code) for code in _TCVN3_DECODE)
_VNI_MARKS: Final = frozenset(key[1] for key in _VNI_PAIRS)
_VNI_CHARS: Final = frozenset(chr(code) for code in _VNI_SINGLES) | _VNI_MARKS
# Any base letter followed by any mark (bases and marks are disjoint sets). A class pair is about
# three times faster than an alternation of the 232 exact pairs; a pair that is not in the table
# ("yê" in Unicode "Nguyên") is left unchanged by the replacement.
_VNI_PAIR_RE: Final = re.compile(
    "[{}][{}]".format(
        re.escape("".join(sorted({key[0] for key in _VNI_PAIRS}))),
        re.escape("".join(sorted(_VNI_MARKS))),
    )
)


def _pair_replacement(match: re.Match[str]) -> str:
    pair = match.group()
    return _VNI_PAIRS.get(pair, pair)


def tcvn3_to_unicode(text: str) -> str:
    """Decode TCVN3 (ABC) text given as the cp1252 characters of its bytes; NFC output.

    Uppercase toned letters come out lowercase (TCVN3 cannot tell them apart).
    """
    return unicodedata.normalize("NFC", text.translate(_TCVN3_DECODE))


def vni_to_unicode(text: str) -> str:
    """Decode VNI-Windows text given as the cp1252 characters of its bytes; NFC output.

    The letter case comes from the base letter, so ``Aù`` and ``AÙ`` both give "Á".
    """
    singles_done = text.translate(_VNI_SINGLES)
    return unicodedata.normalize("NFC", _VNI_PAIR_RE.sub(_pair_replacement, singles_done))


def unicode_to_tcvn3(text: str) -> str:
    """Encode Unicode (NFC or NFD) Vietnamese as TCVN3 characters; lossy for uppercase toned."""
    return unicodedata.normalize("NFC", text).translate(_TCVN3_ENCODE)


def unicode_to_vni(text: str) -> str:
    """Encode Unicode (NFC or NFD) Vietnamese as VNI-Windows characters."""
    return unicodedata.normalize("NFC", text).translate(_VNI_ENCODE)


# --- detection -------------------------------------------------------------------------------

# Letters only Unicode Vietnamese has (ă đ ĩ ũ ơ ư and the U+1EA0 block) and combining marks
# (NFD input). Legacy text cannot contain them, so their presence means "already Unicode".
_UNICODE_VIETNAMESE_RE: Final = re.compile(
    "[\u0300-\u036f\u0102\u0103\u0110\u0111\u0128\u0129\u0168\u0169"
    "\u01a0\u01a1\u01af\u01b0\u1ea0-\u1ef9]"
)
# Non-ASCII characters that may sit next to legacy text without saying anything about it.
_NEUTRAL: Final = frozenset("\u00a0°€‚„…†‡‰‹›‘’“”•–—™")

# TCVN3 codes that are not letters (¶ ¸ © ¾ ...): inside a word they are a strong legacy signal.
_TCVN3_SYMBOLS: Final = frozenset(c for c in _TCVN3_CHARS if unicodedata.category(c)[0] != "L")
# VNI characters never found in Unicode Vietnamese words (the tone marks ø û ï, marks that only
# VNI puts after a vowel, ñ for đ, ö for ư ...). â ê ù õ only count when used as marks.
_VNI_STRONG: Final = frozenset("øûïåäëüñæöîØÛÏÅÄËÜÑÆÖÎ")
_VNI_STRONG_MARKS: Final = frozenset("âêùõÂÊÙÕ")


def _word_re(chars: frozenset[str]) -> re.Pattern[str]:
    return re.compile("[A-Za-z" + re.escape("".join(sorted(chars))) + "]+")


def _foreign_re(chars: frozenset[str]) -> re.Pattern[str]:
    return re.compile("[^\x00-\x7f" + re.escape("".join(sorted(chars | _NEUTRAL))) + "]")


_TCVN3_WORD_RE: Final = _word_re(_TCVN3_CHARS)
_VNI_WORD_RE: Final = _word_re(_VNI_CHARS)
_TCVN3_FOREIGN_RE: Final = _foreign_re(_TCVN3_CHARS)
_VNI_FOREIGN_RE: Final = _foreign_re(_VNI_CHARS)

# Phonotactics of one toneless, lowercase Vietnamese syllable: initial consonant, vowel nucleus
# (with or without a final consonant) or an open rhyme. Western words mis-read as legacy text
# ("Müller" → "mỹller", "café" → "cafộ") fail it.
_INITIAL: Final = "(?:ngh|ng|gh|gi|kh|nh|ph|th|tr|ch|qu|[bcdđghklmnprstvx])?"
_CLOSABLE_NUCLEUS: Final = "uyê|iê|yê|uô|ươ|oa|oă|oe|oo|uâ|uê|uy|[aăâeêiyoôơuư]"
_OPEN_RHYME: Final = (
    "oai|oay|oao|oeo|uây|uôi|uya|uyu|ươi|ươu|iêu|yêu|"
    "ai|ao|au|ay|âu|ây|eo|êu|ia|iu|oi|ôi|ơi|ua|ui|ưa|ưi|ưu|uơ"
)
_SYLLABLE_RE: Final = re.compile(
    f"{_INITIAL}(?:(?:{_CLOSABLE_NUCLEUS})(?:ch|ng|nh|[cmnpt])?|(?:{_OPEN_RHYME}))"
)


def _is_syllable(word: str) -> bool:
    """True if ``word`` (Unicode) is one plausible Vietnamese syllable with at most one tone."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    toneless = "".join(c for c in decomposed if c not in _TONE_MARKS)
    if len(decomposed) - len(toneless) > 1:
        return False
    return _SYLLABLE_RE.fullmatch(unicodedata.normalize("NFC", toneless)) is not None


def _tcvn3_word_evidence(word: str) -> bool | None:
    """None if ``word`` cannot be TCVN3, else whether it carries a strong TCVN3 signal."""
    if not _is_syllable(tcvn3_to_unicode(word)):
        return None
    if not any(c.isascii() for c in word):
        return False  # a lone "©" or "µ" is too little to go on
    for i, char in enumerate(word):
        after_letter = i > 0 and word[i - 1].isascii()
        if char in _TCVN3_SYMBOLS:
            return True
        if after_letter and char in "ªµ":  # letters in Unicode, but "Hµ" is no Western word
            return True
        if after_letter and word[i - 1].islower() and char.isupper():  # "lËp", "tØnh"
            return True
    return False


def _vni_word_evidence(word: str) -> bool | None:
    """None if ``word`` cannot be VNI, else whether it carries a strong VNI signal."""
    singles_done = word.translate(_VNI_SINGLES)
    pairs = _VNI_PAIR_RE.findall(singles_done)
    if any(pair not in _VNI_PAIRS for pair in pairs) or any(
        c in _VNI_MARKS for c in _VNI_PAIR_RE.sub("", singles_done)
    ):
        return None  # a mark not after a vowel it can modify: "café", "Müller", "Tây", "Nguyên"
    if not _is_syllable(vni_to_unicode(word)):
        return None
    if not any(c.isascii() for c in word):
        return False
    return any(c in _VNI_STRONG for c in word) or any(p[1] in _VNI_STRONG_MARKS for p in pairs)


def _looks_like(
    text: str,
    foreign_re: re.Pattern[str],
    word_re: re.Pattern[str],
    legacy_chars: frozenset[str],
    word_evidence: Callable[[str], bool | None],
) -> bool:
    if foreign_re.search(text):
        return False
    strong = False
    for word in word_re.findall(text):
        if word.isascii() or legacy_chars.isdisjoint(word):
            continue
        evidence = word_evidence(word)
        if evidence is None:
            return False
        strong = strong or evidence
    return strong


def detect_legacy(text: str) -> LegacyEncoding | None:
    """Guess whether ``text`` is TCVN3 or VNI mojibake; None when unsure or already Unicode.

    Wrongly "fixing" a correct value corrupts it, so the heuristic is one-sided. It answers an
    encoding only if all of these hold:

    1. the text has none of the letters only Unicode Vietnamese has (ơ, ư, đ, ạ ...) and no
       combining marks, so proper Unicode (NFC or NFD) is never touched;
    2. every non-ASCII character belongs to the encoding (or is neutral punctuation such as
       “ ” – … € or a no-break space);
    3. every word containing legacy characters decodes to a valid Vietnamese syllable (initial
       consonant + known rhyme, at most one tone) and, for VNI, every mark follows a vowel;
    4. at least one such word, which also contains an ASCII letter, shows a sign Western or
       Unicode text practically never has: for TCVN3 a symbol used as a letter (``B¶o``,
       ``nh©n``), ``ª``/``µ`` after a letter (``Hµ``) or a capital after a lowercase letter
       (``lËp``); for VNI a mark Unicode Vietnamese never uses (``aø``, ``oï``, ``ñ``, ``ö``)
       or ``â ê ù õ`` used as marks (``Tuyeân``);
    5. the text is not plausible in both encodings at once.

    What it cannot detect: values whose legacy characters all look like ordinary accented
    letters (TCVN3 ``Phó Thä`` = "Phú Thọ", VNI ``Hoàng`` = "Hồng" are also plausible Unicode
    or Western text), single letters, text mixing legacy and Unicode, and legacy text containing
    non-Vietnamese words with legacy characters or spelled outside standard phonotactics. Use
    ``fix_text(..., encoding=...)`` when a whole file is known to be in one encoding.
    """
    if text.isascii() or _UNICODE_VIETNAMESE_RE.search(text):
        return None
    is_tcvn3 = _looks_like(
        text, _TCVN3_FOREIGN_RE, _TCVN3_WORD_RE, _TCVN3_CHARS, _tcvn3_word_evidence
    )
    is_vni = _looks_like(text, _VNI_FOREIGN_RE, _VNI_WORD_RE, _VNI_CHARS, _vni_word_evidence)
    if is_tcvn3 == is_vni:
        return None
    return "tcvn3" if is_tcvn3 else "vni"


def fix_text(text: str, encoding: Literal["auto", "tcvn3", "vni", "none"] = "auto") -> str:
    """Return ``text`` as NFC Unicode, converting it from a legacy encoding if needed.

    ``auto`` decides per value with :func:`detect_legacy` (one file may mix cells typed on
    different machines); ``none`` only normalises. Idempotent for ``auto`` and ``none``.
    """
    if encoding == "auto":
        detected = detect_legacy(text)
        if detected is None:
            return unicodedata.normalize("NFC", text)
        encoding = detected
    if encoding == "tcvn3":
        return tcvn3_to_unicode(text)
    if encoding == "vni":
        return vni_to_unicode(text)
    if encoding == "none":
        return unicodedata.normalize("NFC", text)
    raise ValueError(f"unknown encoding {encoding!r}")


# Bytes 0x80-0x9F: cp1252 punctuation (“ ” – …) where defined, so text matches what Excel shows;
# Latin-1 (a C1 control) for the five bytes cp1252 leaves undefined, so decoding never fails.
_CP1252_C1: Final = {
    byte: char
    for byte in range(0x80, 0xA0)
    if (char := bytes([byte]).decode("cp1252", errors="replace")) != "\ufffd"
}


def cp1252_text(latin1: str) -> str:
    """Bytes read as Latin-1 (which never fails) as cp1252 shows them: its punctuation where
    it defines one, the C1 control for the five bytes it leaves undefined."""
    return latin1.translate(_CP1252_C1)


def decode_legacy_bytes(data: bytes, encoding: LegacyEncoding) -> str:
    """Decode raw bytes of a legacy file (e.g. a CSV) to NFC Unicode.

    Both encodings are single-byte supersets of ASCII laid out on cp1252, so the bytes are read
    as cp1252 characters (never failing) and then converted like Excel strings are.
    """
    text = cp1252_text(data.decode("latin-1"))
    if encoding == "tcvn3":
        return tcvn3_to_unicode(text)
    if encoding == "vni":
        return vni_to_unicode(text)
    raise ValueError(f"unknown encoding {encoding!r}")
