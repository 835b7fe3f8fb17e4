"""Vendor words for coded fields (chiso/ingest/vocabulary.py), without a database."""

from __future__ import annotations

import pytest
from chiso_sim.exports import UNKNOWN_WORD, VENDOR_WORDS

from chiso.ingest.alias_files import AliasFileError
from chiso.ingest.vocabulary import load_vocabulary
from chiso.sources.canonical import entity

DOSSIERS = entity("one_stop.dossiers")
EVENTS = entity("one_stop.progress_events")


@pytest.fixture(autouse=True)
def no_deployment_file(monkeypatch, tmp_path):
    monkeypatch.setenv("CHISO_ALIASES_FILE", str(tmp_path / "aliases.yaml"))


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("trang_thai_ho_so", "Đã trả kết quả", "10"),
        ("trang_thai_ho_so", "ĐÃ TRẢ KẾT QUẢ", "10"),
        ("trang_thai_ho_so", "da tra ket qua.", "10"),
        ("trang_thai_ho_so", "Đang xử lý", "4"),
        ("trang_thai_ho_so", "Công dân rút hồ sơ", "7"),
        ("trang_thai_ho_so", "Đã xử lý xong", "9"),
        ("trang_thai_ho_so", "Trả lại/không giải quyết", "8"),
        ("trang_thai_ho_so", "Từ chối tiếp nhận", "3"),
        ("trang_thai_ho_so", " 10 ", "10"),
        ("trang_thai_ho_so", "10.0", "10"),  # a number cell read as a float
        ("trang_thai_ho_so", "04", "4"),
        ("kenh_thuc_hien", "Trực tuyến", "2"),
        ("kenh_thuc_hien", "Trực tiếp", "1"),
        ("kenh_thuc_hien", "Qua dịch vụ bưu chính công ích", "3"),
        ("duoc_thanh_toan_truc_tuyen", "Có", "1"),
        ("duoc_thanh_toan_truc_tuyen", "x", "1"),
        ("duoc_thanh_toan_truc_tuyen", "X", "1"),
        ("duoc_thanh_toan_truc_tuyen", "1", "1"),
        ("duoc_thanh_toan_truc_tuyen", "2", "2"),  # through the provincial gateway
        ("duoc_thanh_toan_truc_tuyen", "Không", "0"),
        ("loai_doi_tuong", "Doanh nghiệp", "2"),
    ],
)
def test_words_and_codes_map_to_codes(field, value, code):
    assert load_vocabulary().code(DOSSIERS, field, value) == code


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("trang_thai_ho_so", UNKNOWN_WORD),
        ("trang_thai_ho_so", "11"),  # not one of the codes
        ("kenh_thuc_hien", "4"),
        ("kenh_thuc_hien", "Có"),  # a word of another field
        ("duoc_thanh_toan_truc_tuyen", "3"),
    ],
)
def test_unknown_values_have_no_code(field, value):
    assert load_vocabulary().code(DOSSIERS, field, value) is None


def test_the_simulators_vendor_words_are_all_known():
    """What the simulator prints for each code (its own record of vendors' words) reads back
    as that code: a word vendors print that the vocabulary lacks fails here."""
    vocabulary = load_vocabulary()
    for field, by_code in VENDOR_WORDS.items():
        ent = EVENTS if field == "trang_thai" else DOSSIERS
        for code, words in by_code.items():
            for word in words:
                if not word:
                    continue
                found = vocabulary.code(ent, field, word)
                if field == "duoc_thanh_toan_truc_tuyen" and code == "1":
                    assert found in ("1", "2"), word  # paid: 2 says through the province's gateway
                else:
                    assert found == code, (field, word)


def test_the_deployment_file_adds_words(monkeypatch, tmp_path):
    path = tmp_path / "home" / "aliases.yaml"
    path.parent.mkdir()
    monkeypatch.delenv("CHISO_ALIASES_FILE")
    monkeypatch.setenv("CHISO_HOME", str(path.parent))
    assert load_vocabulary().code(DOSSIERS, "trang_thai_ho_so", UNKNOWN_WORD) is None
    path.write_text(
        f'values:\n  one_stop.dossiers:\n    trang_thai_ho_so:\n      "4": ["{UNKNOWN_WORD}"]\n',
        encoding="utf-8",
    )
    vocabulary = load_vocabulary()
    assert vocabulary.code(DOSSIERS, "trang_thai_ho_so", UNKNOWN_WORD) == "4"
    assert vocabulary.code(DOSSIERS, "trang_thai_ho_so", "Đã trả kết quả") == "10"
    assert vocabulary.deployment_file == path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('values:\n  one_stop.dossiers:\n    trang_thai_ho_so:\n      "4": [Đã trả kết quả]\n',
         "already means 10"),
        ("values:\n  one_stop.dossiers:\n    no_such_field:\n      '1': [a]\n", "no field"),
        ("values:\n  no.entity: {}\n", "no entity"),
        ("words: {}\n", "unknown section"),
        ("values: [\n", "not valid YAML"),
    ],
)  # fmt: skip
def test_a_deployment_file_that_contradicts_the_package_is_refused(
    monkeypatch, tmp_path, text, message
):
    path = tmp_path / "aliases.yaml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("CHISO_ALIASES_FILE", str(path))
    with pytest.raises(AliasFileError, match=message) as caught:
        load_vocabulary()
    assert str(path) in str(caught.value)
