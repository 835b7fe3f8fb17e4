"""Header matching tolerance, the deployment's alias file and the missing-field message."""

from __future__ import annotations

import pytest

from chiso.ingest.alias_files import AliasFileError
from chiso.ingest.headers import load_aliases, match_headers
from chiso.sources.canonical import entity

DOSSIERS = entity("one_stop.dossiers")
DOCUMENTS = entity("documents.movements")


@pytest.fixture(autouse=True)
def deployment_file(monkeypatch, tmp_path):
    path = tmp_path / "aliases.yaml"
    monkeypatch.setenv("CHISO_ALIASES_FILE", str(path))
    return path


@pytest.mark.parametrize(
    ("ent", "label", "field"),
    [
        (DOSSIERS, "Mã định danh đơn vị", "don_vi_xu_ly"),
        (DOSSIERS, "Mã cơ quan", "don_vi_xu_ly"),
        (DOSSIERS, "Mã ĐD cơ quan", "don_vi_xu_ly"),
        (DOSSIERS, "MÃ ĐD CQ", "don_vi_xu_ly"),
        (DOSSIERS, "Ngày TN", "ngay_tiep_nhan"),
        (DOSSIERS, "Ngày trả KQ", "ngay_tra"),
        (DOSSIERS, "Trạng thái HS", "trang_thai_ho_so"),
        (DOCUMENTS, "Mã ĐD cơ quan", "don_vi"),
    ],
)
def test_usual_variants_match(ent, label, field):
    assert match_headers(ent, [label]).fields == [field]


def test_the_deployment_file_adds_header_spellings(deployment_file):
    labels = ["Số HS", "Thủ tục", "ĐV giải quyết hồ sơ", "Ngày nhận đơn", "Tình trạng"]
    before = match_headers(DOSSIERS, labels)
    assert "ngay_tiep_nhan" in before.missing_required
    deployment_file.write_text(
        "headers:\n  one_stop.dossiers:\n"
        "    ngay_tiep_nhan: [Ngày nhận đơn]\n"
        "    trang_thai_ho_so: [Tình trạng]\n"
        "    don_vi_xu_ly: [Đơn vị giải quyết hồ sơ]\n"
        "    ma_tthc: [Thủ tục]\n",
        encoding="utf-8",
    )
    after = match_headers(DOSSIERS, labels)
    assert after.fields == ["ma_ho_so", "ma_tthc", "don_vi_xu_ly", "ngay_tiep_nhan",
                            "trang_thai_ho_so"]  # fmt: skip
    assert after.missing_required == []
    assert load_aliases().deployment_file == deployment_file


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("headers:\n  one_stop.dossiers:\n    ma_tthc: [Mã hồ sơ]\n", "already names ma_ho_so"),
        ("headers:\n  one_stop.dossiers:\n    nope: [X]\n", "has no field"),
        ("headers:\n  one_stop.nope:\n    x: [X]\n", "no entity"),
    ],
)
def test_a_contradicting_deployment_header_is_refused(deployment_file, text, message):
    deployment_file.write_text(text, encoding="utf-8")
    with pytest.raises(AliasFileError, match=message) as caught:
        load_aliases()
    assert str(deployment_file) in str(caught.value)


def test_an_unmatched_required_field_names_the_headers_seen_and_the_nearest(deployment_file):
    labels = ["Mã hồ sơ", "Mã TTHC", "Mã đơn vị", "Ngày tiếp nhậm", "Trạng thái", "Ghi chú"]
    match = match_headers(DOSSIERS, labels)
    assert match.missing_required == ["ngay_tiep_nhan"]
    message = match.missing_message(match.missing_required)
    assert "required field ngay_tiep_nhan (Accepted (reporting month)) matches no header" in message
    assert "nearest: 'Ngày tiếp nhậm'" in message
    assert "'Ghi chú'" not in message.split("Headers seen")[0]  # not near
    assert "Headers seen: 'Mã hồ sơ', 'Mã TTHC', 'Mã đơn vị', 'Ngày tiếp nhậm'" in message
    assert "chiso/sources/aliases.yaml" in message and str(deployment_file) in message
