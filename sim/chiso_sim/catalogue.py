"""Deterministic procedure catalogue (danh mục TTHC) of a province, with its level history.

A province offers about 1,900 administrative procedures (Hải Dương 2023: 1,918, of which ~600 =
31% eligible for fully online service, seed 001). The warehouse needs a catalogue of that size
and shape to test the service-provision indicators, so this module builds one per province:
national-looking TTHC codes (``1.001234``), real field names, authority tiers, fees, a
heavy-tailed dossier-volume weight, and a level that changes over time:

* until 2022-07 levels 1–4, with the share of level ≥3 rising (Hà Giang 2018: 94.7 / 73.3 /
  51.1 / 25% by level 1–4, seed 003; Hòa Bình 2019: 476 level-3/4 services, seed 002);
* from NĐ 42/2022 (in force from 2022-08-01) ``toan_trinh`` or ``mot_phan``, toàn trình growing
  toward 100% of eligible procedures by mid-2025 (seed 001's target).

Every procedure carries fixed uniform draws ("ranks"); its state on a day is the rank compared
with a rollout curve of the day's month. Levels therefore only rise, are the same for a whole
month, and never depend on which period a caller asks for. All randomness is string-seeded from
``SimulatorConfig.seed``; nothing reads the clock.

Names are composed from real Vietnamese templates ("Cấp giấy phép …", "Đăng ký …", "Thủ tục …")
over field-specific objects; the real procedures of :data:`PROCEDURES` are part of every
province's catalogue.
"""

from __future__ import annotations

import itertools
import math
import random
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Protocol

from chiso_sim.config import SimulatorConfig

# NĐ 42/2022/NĐ-CP (signed 24 June 2022, in force from 1 August 2022): levels 1–4 → toàn trình
# / một phần
DECREE_42_START = date(2022, 8, 1)
TWO_TIER_START = date(2025, 7, 1)  # Law 72/2025: no district level; communes take its work

TIER_OF_AUTHORITY = {"tinh": "province_dept", "huyen": "district", "xa": "commune"}
AUTHORITY_OF_TIER = {tier: authority for authority, tier in TIER_OF_AUTHORITY.items()}
_FIELD_PREFIX = {"tinh": "G09", "huyen": "G15", "xa": "G22"}
# Share of a province's catalogue per authority: most procedures are provincial.
_AUTHORITY_SHARE = {"tinh": 0.75, "huyen": 0.16, "xa": 0.09}
_NATIONAL_OVERSIZE = 1.12  # national list > one province's: provinces implement subsets
_STOP_SHARE = 0.06  # procedures abolished (status "dung") at some point in the horizon


@dataclass(frozen=True)
class Procedure:
    """One of the real procedures kept verbatim in every catalogue (and in the old API)."""

    code: str
    name: str
    field_code: str
    field_name: str
    level: int  # level around 2020
    tier: str
    working_days: int
    weight: float
    applicant: str  # "1" citizen, "2" business


# Real procedure names and codes (national TTHC database style). Levels are as of 2020.
PROCEDURES: tuple[Procedure, ...] = (
    Procedure(
        "2.001822",
        "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam, "
        "người nước ngoài đang cư trú tại Việt Nam",
        "G09-TP04",
        "Lý lịch tư pháp",
        3,
        "province_dept",
        10,
        3.0,
        "1",
    ),
    Procedure(
        "1.001612",
        "Đăng ký thành lập công ty trách nhiệm hữu hạn một thành viên",
        "G09-KH01",
        "Thành lập và hoạt động của doanh nghiệp",
        4,
        "province_dept",
        3,
        2.0,
        "2",
    ),
    Procedure(
        "2.000815",
        "Đăng ký thay đổi nội dung đăng ký doanh nghiệp",
        "G09-KH01",
        "Thành lập và hoạt động của doanh nghiệp",
        4,
        "province_dept",
        3,
        2.5,
        "2",
    ),
    Procedure(
        "1.004228",
        "Cấp giấy phép khai thác, sử dụng nước mặt",
        "G09-TM07",
        "Tài nguyên nước",
        2,
        "province_dept",
        30,
        1.0,
        "2",
    ),
    Procedure(
        "1.003880",
        "Cấp giấy phép thiết lập trang thông tin điện tử tổng hợp",
        "G09-TT05",
        "Phát thanh, truyền hình và thông tin điện tử",
        3,
        "province_dept",
        10,
        0.8,
        "2",
    ),
    Procedure(
        "2.000575",
        "Đăng ký thành lập hộ kinh doanh",
        "G15-KH02",
        "Thành lập và hoạt động của hộ kinh doanh",
        3,
        "district",
        3,
        2.0,
        "1",
    ),
    Procedure(
        "1.004227",
        "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất",
        "G15-TM01",
        "Đất đai",
        2,
        "district",
        10,
        2.5,
        "1",
    ),
    Procedure(
        "1.009994",
        "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ",
        "G15-XD02",
        "Hoạt động xây dựng",
        3,
        "district",
        15,
        1.5,
        "1",
    ),
    Procedure(
        "2.000908",
        "Chứng thực bản sao từ bản chính giấy tờ, văn bản "
        "do cơ quan có thẩm quyền của Việt Nam cấp",
        "G15-TP01",
        "Chứng thực",
        2,
        "district",
        2,
        2.0,
        "1",
    ),
    Procedure("1.001193", "Đăng ký khai sinh", "G22-TP02", "Hộ tịch", 3, "commune", 1, 3.0, "1"),
    Procedure("1.000894", "Đăng ký kết hôn", "G22-TP02", "Hộ tịch", 3, "commune", 5, 1.5, "1"),
    Procedure("1.000656", "Đăng ký khai tử", "G22-TP02", "Hộ tịch", 3, "commune", 1, 1.0, "1"),
    Procedure(
        "1.004873",
        "Cấp Giấy xác nhận tình trạng hôn nhân",
        "G22-TP02",
        "Hộ tịch",
        3,
        "commune",
        3,
        1.5,
        "1",
    ),
    Procedure(
        "2.000913",
        "Chứng thực chữ ký trong các giấy tờ, văn bản",
        "G22-TP01",
        "Chứng thực",
        2,
        "commune",
        1,
        2.5,
        "1",
    ),
)

# What real procedures cost and whether they can be fully online (real-world knowledge:
# birth registration and criminal records are toàn trình; marriage and certification need
# the applicant in person).
_REAL_FEES = {
    "2.001822": 200_000,
    "1.001612": 50_000,
    "2.000815": 50_000,
    "1.004228": 1_500_000,
    "1.003880": 0,
    "2.000575": 100_000,
    "1.004227": 50_000,
    "1.009994": 75_000,
    "2.000908": 2_000,
    "1.001193": 0,
    "1.000894": 0,
    "1.000656": 0,
    "1.004873": 0,
    "2.000913": 10_000,
}
_REAL_ELIGIBLE = frozenset(
    {"2.001822", "1.001612", "2.000815", "1.003880", "2.000575", "1.001193", "1.000656"}
    | {"1.004873", "1.009994"}
)
_ALWAYS_ELIGIBLE_BIAS = 2.0  # fields whose procedures are all eligible (seed 001: TT&TT 100%)
_REAL_WEIGHT_BOOST = 4.0  # the real ones are the popular procedures of their tier


# --- field (lĩnh vực) data -----------------------------------------------------------------
# An entry of a field's ``objects`` is "k:object" where k picks the verb templates below, or
# "x:Full name" for one procedure with that exact name.
_VERBS: dict[str, tuple[str, ...]] = {
    "p": (
        "Cấp giấy phép {o}",
        "Cấp lại giấy phép {o}",
        "Gia hạn giấy phép {o}",
        "Điều chỉnh giấy phép {o}",
    ),
    "c": (
        "Cấp Giấy chứng nhận đủ điều kiện {o}",
        "Cấp lại Giấy chứng nhận đủ điều kiện {o}",
        "Điều chỉnh Giấy chứng nhận đủ điều kiện {o}",
    ),
    "r": ("Đăng ký {o}", "Thay đổi nội dung đăng ký {o}", "Cấp lại Giấy đăng ký {o}"),
    "a": ("Thẩm định {o}", "Phê duyệt {o}", "Thẩm định, phê duyệt điều chỉnh {o}"),
    "d": ("Cấp {o}", "Cấp lại {o}", "Cấp đổi {o}", "Thu hồi {o}"),
    "s": ("Giải quyết {o}", "Điều chỉnh {o}", "Thôi hưởng {o}"),
    "t": ("Thủ tục {o}",),
}
# Appended when a field needs more procedures than its templates give (real catalogues list
# such variants as separate procedures); which ones depends on who applies.
_QUALIFIERS_COMMON = (" (cấp {level})", " trong trường hợp có thay đổi thông tin")
_QUALIFIERS_CITIZEN = (" đối với cá nhân", " theo yêu cầu của cá nhân, tổ chức")
_QUALIFIERS_BUSINESS = (
    " đối với doanh nghiệp",
    " đối với hợp tác xã",
    " đối với doanh nghiệp có vốn đầu tư nước ngoài",
)
_LEVEL_WORD = {"tinh": "tỉnh", "huyen": "huyện", "xa": "xã"}
_KIND_DAYS: dict[str, tuple[int, ...]] = {
    "p": (5, 7, 10, 15, 20, 30),
    "c": (7, 10, 15, 20),
    "r": (3, 5, 7, 10),
    "a": (10, 15, 20, 30),
    "d": (3, 5, 7, 10, 15),
    "s": (5, 7, 10, 15),
    "t": (5, 10, 15, 20, 30),
    "x": (1, 3, 5, 7, 10, 15, 20, 30),
}
_SHORT_DAYS = (1, 1, 2, 3, 3, 5, 7, 10)  # commune procedures are quick
_KIND_FEE_SHARE = {"p": 0.7, "c": 0.75, "r": 0.55, "a": 0.8, "d": 0.5, "s": 0.0, "t": 0.1}
_FEES = (10_000, 20_000, 50_000, 100_000, 150_000, 200_000, 300_000, 500_000, 1_000_000)
_BIG_FEES = (500_000, 1_000_000, 1_500_000, 2_000_000, 3_000_000, 5_000_000)


@dataclass(frozen=True)
class _Field:
    ministry: str  # which department family handles it (see _DEPARTMENT_KEYWORDS)
    authority: str  # tinh, huyen, xa
    number: int
    name: str
    size: float  # relative number of procedures within its authority
    business: float  # share of procedures whose applicant is a business
    eligible_bias: float  # > 0: more procedures eligible for toàn trình
    objects: tuple[str, ...]

    @property
    def code(self) -> str:
        return f"{_FIELD_PREFIX[self.authority]}-{self.ministry}{self.number:02d}"


def _fld(
    ministry: str,
    authority: str,
    number: int,
    name: str,
    size: float,
    business: float,
    bias: float,
    objects: str,
) -> _Field:
    return _Field(
        ministry, authority, number, name, size, business, bias, tuple(objects.split("|"))
    )


_FIELDS: tuple[_Field, ...] = (
    # --- provincial departments (sở, ngành) ---
    _fld("TP", "tinh", 1, "Luật sư", 0.8, 0.5, 0.0,
         "d:Chứng chỉ hành nghề luật sư|r:hoạt động của tổ chức hành nghề luật sư"
         "|r:hành nghề luật sư với tư cách cá nhân|r:hoạt động của chi nhánh công ty luật"
         "|x:Hợp nhất công ty luật|x:Sáp nhập công ty luật"
         "|x:Chuyển đổi công ty luật trách nhiệm hữu hạn và công ty luật hợp danh"
         "|x:Đăng ký tập sự hành nghề luật sư|x:Thay đổi nơi tập sự hành nghề luật sư"
         "|x:Chấm dứt hoạt động của tổ chức hành nghề luật sư"),
    _fld("TP", "tinh", 2, "Công chứng", 0.8, 0.3, -0.1,
         "d:Thẻ công chứng viên|r:hoạt động Văn phòng công chứng"
         "|x:Thành lập Văn phòng công chứng|x:Hợp nhất Văn phòng công chứng"
         "|x:Sáp nhập Văn phòng công chứng|x:Chuyển nhượng Văn phòng công chứng"
         "|x:Bổ nhiệm công chứng viên|x:Bổ nhiệm lại công chứng viên"
         "|x:Miễn nhiệm công chứng viên"
         "|x:Đăng ký tập sự hành nghề công chứng|x:Thay đổi nơi tập sự hành nghề công chứng"
         "|x:Chấm dứt hoạt động Văn phòng công chứng|x:Tạm ngừng hành nghề công chứng"),
    _fld("TP", "tinh", 3, "Đấu giá tài sản", 0.5, 0.7, 0.1,
         "d:Thẻ đấu giá viên|r:hoạt động doanh nghiệp đấu giá tài sản"
         "|x:Phê duyệt đủ điều kiện thực hiện hình thức đấu giá trực tuyến"),
    _fld("TP", "tinh", 4, "Lý lịch tư pháp", 0.2, 0.0, 0.6,
         "x:Cấp Phiếu lý lịch tư pháp cho cơ quan tiến hành tố tụng"
         "|x:Cấp Phiếu lý lịch tư pháp cho cơ quan nhà nước, tổ chức chính trị - xã hội"),
    _fld("TP", "tinh", 5, "Quốc tịch", 0.4, 0.0, -0.2,
         "t:nhập quốc tịch Việt Nam|t:trở lại quốc tịch Việt Nam|t:thôi quốc tịch Việt Nam"
         "|d:Giấy xác nhận có quốc tịch Việt Nam|d:Giấy xác nhận là người gốc Việt Nam"),
    _fld("TP", "tinh", 6, "Giám định tư pháp", 0.4, 0.3, -0.1,
         "d:thẻ giám định viên tư pháp|x:Bổ nhiệm giám định viên tư pháp"
         "|x:Miễn nhiệm giám định viên tư pháp|p:thành lập Văn phòng giám định tư pháp"),
    _fld("TP", "tinh", 7, "Trợ giúp pháp lý", 0.4, 0.0, 0.1,
         "t:yêu cầu trợ giúp pháp lý|r:tham gia trợ giúp pháp lý"
         "|d:Thẻ cộng tác viên trợ giúp pháp lý|t:thay đổi người thực hiện trợ giúp pháp lý"),
    _fld("TP", "tinh", 8, "Trọng tài thương mại", 0.3, 0.8, 0.1,
         "r:hoạt động Trung tâm trọng tài|r:hoạt động chi nhánh Trung tâm trọng tài"
         "|r:hoạt động Trung tâm hòa giải thương mại"),
    _fld("KH", "tinh", 1, "Thành lập và hoạt động của doanh nghiệp", 2.5, 1.0, 0.5,
         "x:Đăng ký thành lập công ty cổ phần|x:Đăng ký thành lập công ty hợp danh"
         "|x:Đăng ký thành lập doanh nghiệp tư nhân"
         "|x:Đăng ký thành lập công ty trách nhiệm hữu hạn hai thành viên trở lên"
         "|x:Đăng ký hoạt động chi nhánh, văn phòng đại diện, địa điểm kinh doanh"
         "|x:Thông báo tạm ngừng kinh doanh|x:Giải thể doanh nghiệp"
         "|x:Cấp lại Giấy chứng nhận đăng ký doanh nghiệp"
         "|x:Hiệu đính thông tin đăng ký doanh nghiệp"
         "|x:Đăng ký thay đổi người đại diện theo pháp luật"
         "|x:Đăng ký thay đổi vốn điều lệ|x:Đăng ký đổi tên doanh nghiệp"
         "|x:Đăng ký thay đổi địa chỉ trụ sở chính|x:Thông báo thay đổi ngành, nghề kinh doanh"
         "|x:Chuyển đổi doanh nghiệp tư nhân thành công ty trách nhiệm hữu hạn"
         "|x:Chuyển đổi công ty trách nhiệm hữu hạn thành công ty cổ phần"
         "|x:Thông báo thay đổi thông tin cổ đông sáng lập"
         "|x:Thông báo thay đổi thông tin người quản lý doanh nghiệp"
         "|m:Đăng ký thay đổi {o} đối với công ty trách nhiệm hữu hạn"
         ";Đăng ký thay đổi {o} đối với công ty cổ phần;Thông báo thay đổi {o} của doanh nghiệp"
         " tư nhân;Đăng ký thay đổi {o} đối với công ty hợp danh=người đại diện theo pháp luật"
         ";vốn điều lệ;tên doanh nghiệp;địa chỉ trụ sở chính;chủ sở hữu;thành viên"
         "|m:Đăng ký hoạt động {o};Thông báo thay đổi nội dung đăng ký hoạt động {o}"
         ";Chấm dứt hoạt động {o}=chi nhánh;văn phòng đại diện;địa điểm kinh doanh"),
    _fld("KH", "tinh", 2, "Đầu tư tại Việt Nam", 1.2, 1.0, 0.0,
         "a:chủ trương đầu tư dự án|d:Giấy chứng nhận đăng ký đầu tư"
         "|x:Điều chỉnh Giấy chứng nhận đăng ký đầu tư|x:Chuyển nhượng dự án đầu tư"
         "|x:Giãn tiến độ đầu tư|x:Chấm dứt hoạt động dự án đầu tư"
         "|x:Góp vốn, mua cổ phần, mua phần vốn góp của nhà đầu tư nước ngoài"
         "|m:{o} dự án đầu tư=Điều chỉnh tên;Điều chỉnh nhà đầu tư thực hiện"
         ";Điều chỉnh quy mô, mục tiêu;Điều chỉnh địa điểm thực hiện;Điều chỉnh tổng vốn đầu tư"
         ";Điều chỉnh thời hạn hoạt động;Điều chỉnh tiến độ thực hiện;Tạm ngừng hoạt động"),
    _fld("KH", "tinh", 3, "Thành lập và hoạt động của hợp tác xã", 0.8, 1.0, 0.3,
         "r:thành lập hợp tác xã|r:thành lập liên hiệp hợp tác xã"
         "|x:Đăng ký thay đổi tên, địa chỉ trụ sở chính của hợp tác xã"
         "|x:Giải thể tự nguyện hợp tác xã|x:Tạm ngừng hoạt động của hợp tác xã"),
    _fld("TM", "tinh", 1, "Đất đai", 2.2, 0.5, -0.6,
         "x:Giao đất, cho thuê đất không thông qua đấu giá quyền sử dụng đất"
         "|x:Chuyển mục đích sử dụng đất phải được phép của cơ quan nhà nước có thẩm quyền"
         "|x:Gia hạn sử dụng đất ngoài khu công nghệ cao, khu kinh tế"
         "|x:Thu hồi đất do chấm dứt việc sử dụng đất theo pháp luật"
         "|x:Đăng ký đất đai lần đầu đối với tổ chức|x:Cấp đổi Giấy chứng nhận quyền sử dụng đất"
         "|x:Đính chính Giấy chứng nhận đã cấp|x:Xóa đăng ký cho thuê, cho thuê lại đất"
         "|x:Đăng ký thế chấp quyền sử dụng đất, tài sản gắn liền với đất"
         "|x:Xóa đăng ký thế chấp quyền sử dụng đất, tài sản gắn liền với đất"
         "|x:Cung cấp dữ liệu đất đai|x:Tách thửa hoặc hợp thửa đất"
         "|m:{o} đối với tổ chức;{o} đối với cơ sở tôn giáo;{o} đối với người Việt Nam"
         " định cư ở nước ngoài=Đăng ký biến động quyền sử dụng đất;Cấp lại Giấy chứng nhận"
         " quyền sử dụng đất do bị mất;Gia hạn sử dụng đất;Chuyển mục đích sử dụng đất"
         ";Tách thửa, hợp thửa đất;Đăng ký thay đổi tài sản gắn liền với đất"),
    _fld("TM", "tinh", 2, "Môi trường", 1.4, 0.9, -0.1,
         "a:báo cáo đánh giá tác động môi trường|p:môi trường|d:Giấy phép môi trường"
         "|a:phương án cải tạo, phục hồi môi trường trong hoạt động khai thác khoáng sản"
         "|x:Đăng ký môi trường|x:Vận hành thử nghiệm công trình xử lý chất thải"
         "|x:Xác nhận hoàn thành công trình bảo vệ môi trường"),
    _fld("TM", "tinh", 7, "Tài nguyên nước", 1.0, 0.9, -0.2,
         "p:khai thác, sử dụng nước dưới đất|p:xả nước thải vào nguồn nước"
         "|p:thăm dò nước dưới đất|p:hành nghề khoan nước dưới đất"
         "|x:Cấp giấy phép khai thác, sử dụng nước biển"
         "|x:Thẩm định đề án, báo cáo thăm dò, khai thác, sử dụng tài nguyên nước"),
    _fld("TM", "tinh", 4, "Địa chất và khoáng sản", 1.0, 1.0, -0.3,
         "p:thăm dò khoáng sản|p:khai thác khoáng sản|p:khai thác tận thu khoáng sản"
         "|x:Phê duyệt trữ lượng khoáng sản|x:Đóng cửa mỏ khoáng sản"
         "|x:Trả lại giấy phép khai thác khoáng sản"),
    _fld("TM", "tinh", 5, "Đo đạc, bản đồ và thông tin địa lý", 0.5, 0.8, 0.2,
         "c:hoạt động đo đạc và bản đồ|d:Chứng chỉ hành nghề đo đạc và bản đồ hạng II"
         "|t:cung cấp thông tin, dữ liệu, sản phẩm đo đạc và bản đồ"),
    _fld("TM", "tinh", 6, "Khí tượng thủy văn", 0.3, 0.9, 0.1,
         "p:hoạt động dự báo, cảnh báo khí tượng thủy văn"
         "|t:cung cấp thông tin, dữ liệu khí tượng thủy văn"),
    _fld("TT", "tinh", 5, "Phát thanh, truyền hình và thông tin điện tử", 0.6, 1.0, 2.0,
         "p:thiết lập mạng xã hội|p:cung cấp dịch vụ trò chơi điện tử G1 trên mạng"
         "|c:cung cấp dịch vụ trò chơi điện tử công cộng"
         "|x:Thông báo thay đổi chủ sở hữu trang thông tin điện tử tổng hợp"),
    _fld("TT", "tinh", 1, "Xuất bản, in và phát hành", 0.7, 0.9, 2.0,
         "p:hoạt động in xuất bản phẩm|p:xuất bản tài liệu không kinh doanh"
         "|p:nhập khẩu xuất bản phẩm không kinh doanh|r:hoạt động cơ sở in"
         "|r:hoạt động phát hành xuất bản phẩm|p:tổ chức triển lãm, hội chợ xuất bản phẩm"),
    _fld("TT", "tinh", 2, "Báo chí", 0.4, 0.9, 2.0,
         "p:xuất bản bản tin|p:xuất bản đặc san|x:Cho phép họp báo"),
    _fld("TT", "tinh", 3, "Bưu chính", 0.3, 1.0, 2.0,
         "p:bưu chính|x:Cấp văn bản xác nhận thông báo hoạt động bưu chính"),
    _fld("TT", "tinh", 4, "Viễn thông và Internet", 0.2, 1.0, 2.0,
         "x:Thông báo cung cấp dịch vụ viễn thông|p:sử dụng tần số vô tuyến điện"),
    _fld("XD", "tinh", 1, "Hoạt động xây dựng", 1.5, 0.8, -0.1,
         "a:Báo cáo nghiên cứu khả thi đầu tư xây dựng"
         "|a:thiết kế xây dựng triển khai sau thiết kế cơ sở"
         "|p:xây dựng công trình cấp đặc biệt, cấp I, cấp II|p:di dời công trình"
         "|d:Chứng chỉ năng lực hoạt động xây dựng hạng II, hạng III"
         "|d:Chứng chỉ hành nghề hoạt động xây dựng hạng II, hạng III"
         "|x:Kiểm tra công tác nghiệm thu hoàn thành công trình"
         "|p:xây dựng công trình theo tuyến|p:xây dựng công trình tín ngưỡng, tôn giáo"
         "|p:sửa chữa, cải tạo công trình"),
    _fld("XD", "tinh", 2, "Quy hoạch xây dựng, kiến trúc", 0.7, 0.5, -0.2,
         "a:nhiệm vụ quy hoạch chi tiết|a:đồ án quy hoạch chi tiết"
         "|d:Chứng chỉ hành nghề kiến trúc|x:Cấp giấy phép quy hoạch dự án đầu tư xây dựng"),
    _fld("XD", "tinh", 3, "Nhà ở", 0.7, 0.4, 0.0,
         "x:Thuê nhà ở công vụ|x:Mua, thuê, thuê mua nhà ở xã hội"
         "|x:Công nhận chủ đầu tư dự án xây dựng nhà ở|x:Bán nhà ở cũ thuộc sở hữu nhà nước"),
    _fld("XD", "tinh", 4, "Kinh doanh bất động sản", 0.4, 1.0, 0.0,
         "x:Chuyển nhượng toàn bộ hoặc một phần dự án bất động sản"
         "|d:Chứng chỉ hành nghề môi giới bất động sản"),
    _fld("GT", "tinh", 1, "Đường bộ", 2.0, 0.6, 0.3,
         "d:Giấy phép lái xe|x:Đổi Giấy phép lái xe do ngành Giao thông vận tải cấp"
         "|x:Đổi Giấy phép lái xe quân sự do Bộ Quốc phòng cấp"
         "|p:kinh doanh vận tải bằng xe ô tô|d:phù hiệu xe ô tô kinh doanh vận tải"
         "|p:xe tập lái|d:Giấy phép đào tạo lái xe ô tô|p:liên vận quốc tế"
         "|x:Chấp thuận xây dựng công trình thiết yếu trong phạm vi bảo vệ"
         " kết cấu hạ tầng giao thông"
         "|p:lưu hành xe quá tải trọng, xe quá khổ giới hạn"
         "|x:Đăng ký khai thác tuyến vận tải hành khách cố định"),
    _fld("GT", "tinh", 2, "Đường thủy nội địa", 0.6, 0.8, 0.0,
         "d:Giấy chứng nhận khả năng chuyên môn thuyền trưởng"
         "|r:phương tiện thủy nội địa lần đầu|x:Công bố hoạt động bến thủy nội địa"
         "|x:Công bố đóng bến thủy nội địa"),
    _fld("YT", "tinh", 1, "Khám bệnh, chữa bệnh", 1.6, 0.5, -0.1,
         "d:chứng chỉ hành nghề khám bệnh, chữa bệnh|p:hoạt động phòng khám đa khoa"
         "|p:hoạt động phòng khám chuyên khoa|p:hoạt động cơ sở dịch vụ y tế"
         "|x:Cho phép người hành nghề được tiếp tục hành nghề khám bệnh, chữa bệnh"
         "|x:Công bố đủ điều kiện thực hiện khám sức khỏe"
         "|p:hoạt động phòng khám chuyên khoa răng hàm mặt|p:hoạt động phòng khám chuyên khoa mắt"
         "|p:hoạt động phòng chẩn trị y học cổ truyền|p:hoạt động phòng xét nghiệm"
         "|p:hoạt động phòng khám chẩn đoán hình ảnh|p:hoạt động nhà hộ sinh"
         "|p:hoạt động cơ sở dịch vụ tiêm, thay băng, cắt chỉ|p:hoạt động bệnh viện tư nhân"),
    _fld("YT", "tinh", 2, "Dược phẩm", 1.4, 0.8, 0.2,
         "d:Chứng chỉ hành nghề dược|c:kinh doanh dược|x:Công bố cơ sở kinh doanh dược đạt GPP"
         "|x:Cho phép nhập khẩu thuốc phải kiểm soát đặc biệt"
         "|c:kinh doanh dược đối với nhà thuốc|c:kinh doanh dược đối với quầy thuốc"
         "|c:kinh doanh dược đối với cơ sở bán buôn thuốc|c:kinh doanh dược đối với tủ thuốc"
         " trạm y tế xã|x:Cho phép hủy thuốc gây nghiện, thuốc hướng thần"
         "|x:Đánh giá đáp ứng Thực hành tốt phân phối thuốc|x:Công bố cơ sở kinh doanh dược"
         " đạt Thực hành tốt bảo quản thuốc"),
    _fld("YT", "tinh", 3, "An toàn thực phẩm và dinh dưỡng", 0.8, 0.9, 0.3,
         "c:an toàn thực phẩm đối với cơ sở sản xuất thực phẩm"
         "|x:Đăng ký bản công bố sản phẩm dinh dưỡng y học"
         "|x:Xác nhận nội dung quảng cáo thực phẩm"
         "|c:an toàn thực phẩm đối với cơ sở sản xuất thực phẩm bảo vệ sức khỏe"
         "|c:an toàn thực phẩm đối với cơ sở sản xuất nước uống đóng chai"
         "|c:an toàn thực phẩm đối với bếp ăn tập thể"
         "|x:Đăng ký bản công bố sản phẩm thực phẩm bảo vệ sức khỏe"),
    _fld("YT", "tinh", 4, "Trang thiết bị y tế", 0.5, 1.0, 0.3,
         "x:Công bố đủ điều kiện sản xuất trang thiết bị y tế"
         "|x:Công bố tiêu chuẩn áp dụng đối với trang thiết bị y tế loại A"
         "|x:Công bố đủ điều kiện mua bán trang thiết bị y tế loại B, C, D"),
    _fld("YT", "tinh", 5, "Y tế dự phòng", 0.5, 0.6, 0.0,
         "x:Công bố đủ điều kiện tiêm chủng|x:Công bố cơ sở xét nghiệm đạt an toàn sinh học cấp I"
         "|c:kinh doanh dịch vụ diệt côn trùng"),
    _fld("GD", "tinh", 1, "Giáo dục và Đào tạo thuộc hệ thống giáo dục quốc dân", 1.4, 0.4, -0.1,
         "x:Thành lập trường trung học phổ thông|x:Cho phép trường trung học phổ thông hoạt động"
         "|x:Sáp nhập, chia, tách trường trung học phổ thông"
         "|p:hoạt động giáo dục của trung tâm ngoại ngữ, tin học"
         "|x:Chuyển trường đối với học sinh trung học phổ thông"
         "|x:Cấp phép tổ chức dạy thêm, học thêm"
         "|m:Thành lập {o};Cho phép {o} hoạt động giáo dục;Sáp nhập, chia, tách {o}"
         ";Giải thể {o}=trường phổ thông dân tộc nội trú;trung tâm giáo dục thường xuyên"
         ";trường trung học phổ thông chuyên;trường phổ thông có nhiều cấp học;trung tâm"
         " ngoại ngữ, tin học"),
    _fld("GD", "tinh", 2, "Văn bằng, chứng chỉ", 0.6, 0.0, 0.6,
         "d:bản sao văn bằng, chứng chỉ từ sổ gốc|x:Chỉnh sửa nội dung văn bằng, chứng chỉ"
         "|x:Công nhận văn bằng tốt nghiệp do cơ sở giáo dục nước ngoài cấp"),
    _fld("GD", "tinh", 3, "Thi, tuyển sinh", 0.4, 0.0, 0.4,
         "t:đăng ký dự thi tốt nghiệp trung học phổ thông|t:phúc khảo bài thi"
         "|x:Xét đặc cách tốt nghiệp trung học phổ thông"),
    _fld("LD", "tinh", 1, "Việc làm", 0.8, 0.5, 0.2,
         "d:giấy phép lao động cho người lao động nước ngoài làm việc tại Việt Nam"
         "|x:Xác nhận người lao động nước ngoài không thuộc diện cấp giấy phép lao động"
         "|p:hoạt động dịch vụ việc làm|t:giải quyết hưởng trợ cấp thất nghiệp"
         "|t:tạm dừng hưởng trợ cấp thất nghiệp"),
    _fld("LD", "tinh", 2, "Người có công", 1.0, 0.0, -0.2,
         "s:chế độ ưu đãi đối với thương binh|s:chế độ ưu đãi đối với thân nhân liệt sĩ"
         "|s:chế độ trợ cấp đối với người hoạt động kháng chiến bị nhiễm chất độc hóa học"
         "|x:Cấp giấy giới thiệu đi thăm viếng mộ liệt sĩ|x:Di chuyển hài cốt liệt sĩ"
         "|s:chế độ ưu đãi đối với Bà mẹ Việt Nam anh hùng|s:chế độ ưu đãi đối với bệnh binh"
         "|s:chế độ ưu đãi đối với người hoạt động cách mạng trước ngày 01 tháng 01 năm 1945"
         "|s:chế độ ưu đãi đối với người có công giúp đỡ cách mạng"),
    _fld("LD", "tinh", 3, "Bảo trợ xã hội", 0.6, 0.2, -0.1,
         "p:thành lập cơ sở trợ giúp xã hội ngoài công lập"
         "|x:Tiếp nhận đối tượng vào cơ sở trợ giúp xã hội cấp tỉnh"),
    _fld("LD", "tinh", 4, "Giáo dục nghề nghiệp", 0.7, 0.8, 0.1,
         "r:hoạt động giáo dục nghề nghiệp trình độ sơ cấp"
         "|x:Thành lập trung tâm giáo dục nghề nghiệp tư thục"
         "|x:Cho phép thành lập phân hiệu của trường trung cấp"),
    _fld("LD", "tinh", 5, "An toàn, vệ sinh lao động", 0.4, 1.0, 0.2,
         "c:hoạt động huấn luyện an toàn, vệ sinh lao động hạng A"
         "|x:Khai báo máy, thiết bị, vật tư có yêu cầu nghiêm ngặt về an toàn lao động"),
    _fld("NN", "tinh", 1, "Trồng trọt", 0.6, 0.7, 0.0,
         "c:sản xuất, buôn bán phân bón|x:Công nhận cây đầu dòng, vườn cây đầu dòng"
         "|x:Cấp Quyết định công nhận lưu hành đặc cách giống cây trồng"),
    _fld("NN", "tinh", 2, "Bảo vệ thực vật", 0.5, 0.8, 0.1,
         "c:buôn bán thuốc bảo vệ thực vật|d:Giấy chứng nhận kiểm dịch thực vật nội địa"),
    _fld("NN", "tinh", 3, "Chăn nuôi", 0.5, 0.8, 0.1,
         "c:chăn nuôi trang trại quy mô lớn|c:sản xuất thức ăn chăn nuôi thương mại"),
    _fld("NN", "tinh", 4, "Thú y", 0.7, 0.8, 0.2,
         "c:buôn bán thuốc thú y|d:Chứng chỉ hành nghề thú y"
         "|d:Giấy chứng nhận cơ sở an toàn dịch bệnh động vật"
         "|x:Cấp giấy chứng nhận kiểm dịch động vật, sản phẩm động vật vận chuyển ra khỏi tỉnh"),
    _fld("NN", "tinh", 5, "Thủy sản", 0.6, 0.7, 0.0,
         "p:khai thác thủy sản|c:nuôi trồng thủy sản|r:tàu cá|x:Xóa đăng ký tàu cá"),
    _fld("NN", "tinh", 6, "Lâm nghiệp", 0.6, 0.6, -0.1,
         "x:Phê duyệt phương án quản lý rừng bền vững"
         "|x:Chuyển loại rừng đối với khu rừng do Ủy ban nhân dân cấp tỉnh quyết lập"
         "|x:Xác nhận bảng kê lâm sản|x:Nộp tiền trồng rừng thay thế"),
    _fld("NN", "tinh", 7, "Thủy lợi", 0.5, 0.6, -0.1,
         "p:hoạt động trong phạm vi bảo vệ công trình thủy lợi"
         "|x:Phê duyệt phương án bảo vệ đập, hồ chứa nước"),
    _fld("NN", "tinh", 8, "Quản lý chất lượng nông lâm sản và thủy sản", 0.4, 0.9, 0.2,
         "c:an toàn thực phẩm đối với cơ sở sản xuất, kinh doanh nông lâm thủy sản"
         "|x:Xác nhận nội dung quảng cáo sản phẩm nông nghiệp"),
    _fld("CT", "tinh", 1, "Lưu thông hàng hóa trong nước", 1.2, 1.0, 0.2,
         "p:bán buôn rượu|p:bán buôn sản phẩm thuốc lá|p:kinh doanh hàng hóa, dịch vụ"
         "|c:thương nhân kinh doanh xăng dầu"
         "|x:Cấp Giấy xác nhận đủ điều kiện làm tổng đại lý kinh doanh xăng dầu"),
    _fld("CT", "tinh", 2, "Hóa chất", 0.6, 1.0, 0.1,
         "c:sản xuất hóa chất sản xuất, kinh doanh có điều kiện"
         "|c:kinh doanh hóa chất sản xuất, kinh doanh có điều kiện"
         "|x:Xác nhận Kế hoạch phòng ngừa, ứng phó sự cố hóa chất"),
    _fld("CT", "tinh", 3, "Vật liệu nổ công nghiệp", 0.3, 1.0, -0.2,
         "p:sử dụng vật liệu nổ công nghiệp|p:sử dụng tiền chất thuốc nổ"),
    _fld("CT", "tinh", 4, "Điện", 0.6, 1.0, 0.1,
         "p:hoạt động phân phối điện|p:hoạt động bán lẻ điện|p:hoạt động phát điện"
         "|d:Thẻ an toàn điện"),
    _fld("CT", "tinh", 5, "Kinh doanh khí", 0.4, 1.0, 0.1,
         "c:thương nhân kinh doanh mua bán khí|c:trạm nạp LPG vào chai"),
    _fld("CT", "tinh", 6, "Xúc tiến thương mại", 0.4, 1.0, 0.4,
         "r:tổ chức hội chợ, triển lãm thương mại|r:thực hiện khuyến mại"
         "|x:Thông báo thực hiện khuyến mại"),
    _fld("VH", "tinh", 1, "Văn hóa", 0.8, 0.6, 0.0,
         "x:Tổ chức biểu diễn nghệ thuật|x:Tổ chức cuộc thi người đẹp, người mẫu"
         "|p:kinh doanh dịch vụ karaoke|p:kinh doanh dịch vụ vũ trường"
         "|x:Thông báo tổ chức lễ hội cấp tỉnh|x:Cấp giấy phép triển lãm mỹ thuật"),
    _fld("VH", "tinh", 2, "Du lịch", 0.8, 0.8, 0.2,
         "d:thẻ hướng dẫn viên du lịch nội địa|d:thẻ hướng dẫn viên du lịch quốc tế"
         "|p:kinh doanh dịch vụ lữ hành nội địa|x:Công nhận hạng cơ sở lưu trú du lịch"
         "|x:Công nhận điểm du lịch"),
    _fld("VH", "tinh", 3, "Thể dục thể thao", 0.6, 0.8, 0.1,
         "c:kinh doanh hoạt động thể thao"
         "|x:Đăng cai tổ chức giải thi đấu vô địch từng môn thể thao"),
    _fld("VH", "tinh", 4, "Di sản văn hóa", 0.4, 0.3, -0.1,
         "p:khai quật khảo cổ|d:chứng chỉ hành nghề mua bán di vật, cổ vật"
         "|x:Xác nhận đủ điều kiện cấp giấy phép hoạt động bảo tàng ngoài công lập"),
    _fld("VH", "tinh", 5, "Quảng cáo", 0.3, 1.0, 0.3,
         "x:Tiếp nhận thông báo sản phẩm quảng cáo trên bảng quảng cáo, băng-rôn"
         "|p:thành lập văn phòng đại diện của doanh nghiệp quảng cáo nước ngoài"),
    _fld("KC", "tinh", 1, "Hoạt động khoa học và công nghệ", 0.6, 0.7, 0.4,
         "r:hoạt động của tổ chức khoa học và công nghệ"
         "|d:Giấy chứng nhận doanh nghiệp khoa học và công nghệ"
         "|x:Đăng ký kết quả thực hiện nhiệm vụ khoa học và công nghệ"),
    _fld("KC", "tinh", 2, "Tiêu chuẩn đo lường chất lượng", 0.6, 1.0, 0.4,
         "x:Đăng ký kiểm tra nhà nước về chất lượng hàng hóa nhập khẩu"
         "|x:Đăng ký công bố hợp chuẩn|x:Đăng ký công bố hợp quy"
         "|x:Chứng nhận chuẩn đo lường để kiểm định phương tiện đo"),
    _fld("KC", "tinh", 3, "An toàn bức xạ và hạt nhân", 0.4, 0.8, 0.3,
         "p:tiến hành công việc bức xạ - sử dụng thiết bị X-quang chẩn đoán trong y tế"
         "|d:Chứng chỉ nhân viên bức xạ"),
    _fld("KC", "tinh", 4, "Chuyển giao công nghệ", 0.3, 1.0, 0.3,
         "x:Đăng ký gia hạn thời hạn chuyển giao công nghệ"
         "|x:Cấp Giấy chứng nhận đăng ký chuyển giao công nghệ"),
    _fld("TC", "tinh", 1, "Quản lý công sản", 0.6, 0.5, 0.0,
         "x:Mua sắm tài sản công phục vụ hoạt động của cơ quan, tổ chức, đơn vị"
         "|x:Thanh lý tài sản công|x:Điều chuyển tài sản công|x:Bán tài sản công"),
    _fld("TC", "tinh", 2, "Quản lý giá", 0.3, 1.0, 0.2,
         "x:Đăng ký giá của các doanh nghiệp thuộc phạm vi cấp tỉnh"
         "|x:Kê khai giá hàng hóa, dịch vụ"),
    _fld("NV", "tinh", 1, "Tổ chức phi chính phủ", 0.5, 0.3, -0.1,
         "x:Thành lập hội|x:Phê duyệt điều lệ hội|x:Chia, tách; sáp nhập; hợp nhất hội"
         "|x:Cấp giấy phép thành lập và công nhận điều lệ quỹ"),
    _fld("NV", "tinh", 2, "Thi đua - khen thưởng", 0.5, 0.2, -0.2,
         "x:Tặng Bằng khen của Chủ tịch Ủy ban nhân dân cấp tỉnh"
         "|x:Tặng Cờ thi đua của Ủy ban nhân dân cấp tỉnh"
         "|x:Tặng danh hiệu Tập thể lao động xuất sắc"),
    _fld("NV", "tinh", 3, "Tôn giáo", 0.5, 0.0, -0.2,
         "x:Đăng ký hoạt động tín ngưỡng|x:Đăng ký sinh hoạt tôn giáo tập trung"
         "|x:Đề nghị tổ chức cuộc lễ ngoài cơ sở tôn giáo"),
    _fld("NV", "tinh", 4, "Văn thư và lưu trữ", 0.2, 0.0, 0.3,
         "d:Chứng chỉ hành nghề lưu trữ|t:phục vụ việc sử dụng tài liệu của độc giả tại phòng đọc"),
    _fld("TTR", "tinh", 1, "Giải quyết khiếu nại, tố cáo", 0.4, 0.1, -0.3,
         "t:giải quyết khiếu nại lần đầu tại cấp tỉnh|t:giải quyết khiếu nại lần hai tại cấp tỉnh"
         "|t:giải quyết tố cáo tại cấp tỉnh|t:tiếp công dân tại cấp tỉnh"),
    _fld("DT", "tinh", 1, "Công tác dân tộc", 0.2, 0.0, -0.2,
         "x:Công nhận người có uy tín trong đồng bào dân tộc thiểu số"
         "|x:Đưa ra khỏi danh sách người có uy tín trong đồng bào dân tộc thiểu số"),
    _fld("KCN", "tinh", 1, "Quản lý khu công nghiệp, khu kinh tế", 0.5, 1.0, 0.2,
         "x:Cấp Giấy chứng nhận xuất xứ hàng hóa ưu đãi|x:Cho thuê lại đất trong khu công nghiệp"
         "|x:Đăng ký nội quy lao động của doanh nghiệp trong khu công nghiệp"
         "|x:Gia hạn giấy phép lao động cho người lao động nước ngoài trong khu công nghiệp"),
    # --- district People's Committees (UBND huyện) ---
    _fld("TP", "huyen", 1, "Chứng thực", 1.0, 0.1, -0.6,
         "x:Chứng thực bản sao từ bản chính giấy tờ, văn bản do cơ quan tổ chức có thẩm quyền"
         " của nước ngoài cấp|x:Chứng thực chữ ký người dịch mà người dịch là cộng tác viên"
         "|x:Chứng thực hợp đồng, giao dịch liên quan đến tài sản là động sản"
         "|x:Chứng thực việc sửa đổi, bổ sung, hủy bỏ hợp đồng, giao dịch"
         "|x:Cấp bản sao có chứng thực từ bản chính hợp đồng, giao dịch đã được chứng thực"
         "|m:Chứng thực {o}=chữ ký người dịch không phải là cộng tác viên dịch thuật"
         ";văn bản thỏa thuận phân chia di sản là động sản;văn bản khai nhận di sản là động sản"
         ";di chúc tại cấp huyện;văn bản ủy quyền"),
    _fld("TP", "huyen", 2, "Hộ tịch", 1.0, 0.0, 0.2,
         "x:Đăng ký khai sinh có yếu tố nước ngoài|x:Đăng ký kết hôn có yếu tố nước ngoài"
         "|x:Đăng ký khai tử có yếu tố nước ngoài|x:Đăng ký nhận cha, mẹ, con có yếu tố nước ngoài"
         "|x:Thay đổi, cải chính, bổ sung thông tin hộ tịch, xác định lại dân tộc"
         "|x:Ghi vào Sổ hộ tịch việc hộ tịch của công dân Việt Nam đã được giải quyết"
         " tại cơ quan có thẩm quyền của nước ngoài"
         "|m:Ghi vào Sổ hộ tịch việc {o} của công dân Việt Nam ở nước ngoài;Cấp bản sao trích"
         " lục {o} có yếu tố nước ngoài=khai sinh;kết hôn;khai tử;nhận cha, mẹ, con;giám hộ"
         ";ly hôn"),
    _fld("KH", "huyen", 2, "Thành lập và hoạt động của hộ kinh doanh", 0.5, 0.0, 0.6,
         "x:Đăng ký thay đổi nội dung đăng ký hộ kinh doanh|x:Tạm ngừng hoạt động hộ kinh doanh"
         "|x:Chấm dứt hoạt động hộ kinh doanh|x:Cấp lại Giấy chứng nhận đăng ký hộ kinh doanh"),
    _fld("KH", "huyen", 3, "Thành lập và hoạt động của hợp tác xã", 0.4, 1.0, 0.3,
         "r:thành lập hợp tác xã|x:Giải thể tự nguyện hợp tác xã"
         "|x:Đăng ký thay đổi tên, địa chỉ trụ sở chính của hợp tác xã"),
    _fld("TM", "huyen", 1, "Đất đai", 1.4, 0.0, -0.5,
         "x:Đăng ký, cấp Giấy chứng nhận quyền sử dụng đất lần đầu"
         "|x:Chuyển mục đích sử dụng đất đối với hộ gia đình, cá nhân"
         "|x:Giao đất, cho thuê đất đối với hộ gia đình, cá nhân"
         "|x:Cấp lại Giấy chứng nhận quyền sử dụng đất do bị mất"
         "|x:Đăng ký biến động do đổi tên, thay đổi thông tin về người sử dụng đất"
         "|x:Gia hạn sử dụng đất nông nghiệp của hộ gia đình, cá nhân"
         "|x:Hòa giải tranh chấp đất đai|x:Giải quyết tranh chấp đất đai thuộc thẩm quyền của"
         " Chủ tịch Ủy ban nhân dân cấp huyện"
         "|m:{o} đối với hộ gia đình, cá nhân;{o} đối với cộng đồng dân cư=Đăng ký biến động"
         " do chuyển nhượng quyền sử dụng đất;Đăng ký biến động do thừa kế quyền sử dụng đất"
         ";Đăng ký biến động do tặng cho quyền sử dụng đất;Đăng ký biến động do góp vốn bằng"
         " quyền sử dụng đất;Đăng ký biến động do thay đổi diện tích thửa đất"
         ";Tách thửa, hợp thửa đất"
         ";Đính chính Giấy chứng nhận đã cấp;Cấp đổi Giấy chứng nhận quyền sử dụng đất"
         ";Thu hồi Giấy chứng nhận đã cấp không đúng quy định"),
    _fld("TM", "huyen", 2, "Môi trường", 0.4, 0.6, 0.0,
         "x:Đăng ký môi trường đối với hộ gia đình, cá nhân sản xuất, kinh doanh"
         "|x:Tham vấn báo cáo đánh giá tác động môi trường"),
    _fld("XD", "huyen", 2, "Hoạt động xây dựng", 0.7, 0.1, 0.2,
         "x:Cấp giấy phép sửa chữa, cải tạo công trình|x:Cấp giấy phép di dời công trình"
         "|x:Điều chỉnh giấy phép xây dựng nhà ở riêng lẻ|x:Gia hạn giấy phép xây dựng"
         "|x:Cấp lại giấy phép xây dựng|x:Cấp giấy phép xây dựng có thời hạn"),
    _fld("GD", "huyen", 1, "Giáo dục và Đào tạo thuộc hệ thống giáo dục quốc dân", 0.8, 0.2, 0.0,
         "x:Thành lập trường mầm non|x:Cho phép trường tiểu học hoạt động giáo dục"
         "|x:Chuyển trường đối với học sinh trung học cơ sở"
         "|x:Thành lập nhóm trẻ, lớp mẫu giáo độc lập|x:Cho phép trường trung học cơ sở hoạt động"
         "|m:Cho phép {o} hoạt động giáo dục trở lại;Sáp nhập, chia, tách {o};Giải thể {o}"
         "=trường mầm non;trường tiểu học;trường trung học cơ sở;trường phổ thông dân tộc bán trú"),
    _fld("LD", "huyen", 2, "Người có công", 0.6, 0.0, -0.2,
         "s:trợ cấp mai táng phí đối với người có công với cách mạng"
         "|s:chế độ ưu đãi trong giáo dục đào tạo đối với người có công và con của họ"),
    _fld("LD", "huyen", 3, "Bảo trợ xã hội", 0.7, 0.0, 0.0,
         "s:trợ cấp xã hội hằng tháng|s:hỗ trợ kinh phí chăm sóc, nuôi dưỡng hằng tháng"
         "|x:Đăng ký thành lập cơ sở trợ giúp xã hội ngoài công lập thuộc thẩm quyền cấp huyện"),
    _fld("VH", "huyen", 1, "Văn hóa cơ sở", 0.4, 0.5, 0.1,
         "x:Công nhận Khu dân cư văn hóa|x:Cấp giấy phép đủ điều kiện kinh doanh dịch vụ karaoke"
         "|x:Thông báo tổ chức lễ hội cấp huyện"),
    _fld("CT", "huyen", 1, "Lưu thông hàng hóa trong nước", 0.4, 0.8, 0.3,
         "p:bán lẻ rượu|p:bán lẻ sản phẩm thuốc lá"
         "|p:sản xuất rượu thủ công nhằm mục đích kinh doanh"),
    _fld("YT", "huyen", 3, "An toàn thực phẩm và dinh dưỡng", 0.3, 0.8, 0.2,
         "c:an toàn thực phẩm đối với cơ sở kinh doanh dịch vụ ăn uống"),
    _fld("NV", "huyen", 2, "Thi đua - khen thưởng", 0.3, 0.1, -0.2,
         "x:Tặng Giấy khen của Chủ tịch Ủy ban nhân dân cấp huyện"
         "|x:Tặng danh hiệu Lao động tiên tiến"),
    _fld("TTR", "huyen", 1, "Giải quyết khiếu nại, tố cáo", 0.3, 0.0, -0.3,
         "t:giải quyết khiếu nại lần đầu tại cấp huyện|t:giải quyết tố cáo tại cấp huyện"),
    # --- commune People's Committees (UBND xã) ---
    _fld("TP", "xa", 1, "Chứng thực", 0.9, 0.0, -0.6,
         "x:Chứng thực hợp đồng, giao dịch liên quan đến thực hiện quyền của người sử dụng đất"
         "|x:Chứng thực di chúc|x:Chứng thực văn bản thỏa thuận phân chia di sản"
         "|x:Chứng thực việc sửa đổi, bổ sung, hủy bỏ hợp đồng, giao dịch tại cấp xã"
         "|m:Chứng thực {o}=chữ ký người dịch tại cấp xã;hợp đồng, giao dịch liên quan đến"
         " nhà ở;văn bản khai nhận di sản;văn bản từ chối nhận di sản;hợp đồng thế chấp"
         " quyền sử dụng đất;hợp đồng tặng cho quyền sử dụng đất"),
    _fld("TP", "xa", 2, "Hộ tịch", 1.2, 0.0, 0.4,
         "x:Đăng ký nhận cha, mẹ, con|x:Đăng ký giám hộ|x:Đăng ký chấm dứt giám hộ"
         "|x:Đăng ký lại khai sinh|x:Đăng ký lại kết hôn|x:Đăng ký lại khai tử"
         "|x:Đăng ký khai sinh kết hợp nhận cha, mẹ, con"
         "|x:Cấp bản sao trích lục hộ tịch|x:Liên thông thủ tục đăng ký khai sinh,"
         " đăng ký thường trú, cấp thẻ bảo hiểm y tế cho trẻ em dưới 6 tuổi"
         "|m:Đăng ký {o};Đăng ký lại {o};Cấp bản sao trích lục {o}=khai sinh;kết hôn;khai tử"
         ";nhận cha, mẹ, con;giám hộ;thay đổi, cải chính, bổ sung hộ tịch"),
    _fld("LD", "xa", 3, "Bảo trợ xã hội", 0.6, 0.0, 0.0,
         "x:Xác định, xác định lại mức độ khuyết tật và cấp Giấy xác nhận khuyết tật"
         "|x:Đăng ký hoạt động đối với cơ sở trợ giúp xã hội dưới 10 đối tượng"
         "|x:Công nhận hộ nghèo, hộ cận nghèo phát sinh trong năm"
         "|s:trợ cấp xã hội hằng tháng đối với người cao tuổi|s:trợ cấp xã hội hằng tháng đối"
         " với người khuyết tật|s:trợ cấp xã hội hằng tháng đối với trẻ em mồ côi"
         "|s:hỗ trợ chi phí mai táng cho đối tượng bảo trợ xã hội"),
    _fld("LD", "xa", 2, "Người có công", 0.4, 0.0, -0.2,
         "x:Giải quyết chế độ mai táng phí đối với cựu chiến binh"
         "|x:Xác nhận vào đơn đề nghị di chuyển hài cốt liệt sĩ"),
    _fld("TM", "xa", 1, "Đất đai", 0.4, 0.0, -0.4,
         "x:Hòa giải tranh chấp đất đai tại cấp xã|x:Xác nhận đăng ký đất đai"),
    _fld("NV", "xa", 3, "Tôn giáo", 0.3, 0.0, -0.1,
         "x:Đăng ký hoạt động tín ngưỡng tại cấp xã|x:Thông báo danh mục hoạt động tôn giáo"),
    _fld("NV", "xa", 2, "Thi đua - khen thưởng", 0.3, 0.0, -0.2,
         "x:Tặng Giấy khen của Chủ tịch Ủy ban nhân dân cấp xã|x:Khen thưởng đột xuất"),
    _fld("VH", "xa", 1, "Văn hóa cơ sở", 0.3, 0.0, 0.0,
         "x:Thông báo tổ chức lễ hội tại cấp xã|x:Xét tặng danh hiệu Gia đình văn hóa"),
    _fld("TP", "xa", 3, "Nuôi con nuôi", 0.2, 0.0, -0.1,
         "x:Đăng ký việc nuôi con nuôi trong nước|x:Đăng ký lại việc nuôi con nuôi trong nước"),
)  # fmt: skip

# Which departments handle a ministry's fields: keywords tried in order against the valid
# departments' names, so a field follows its department through the 2025 mergers (TT&TT into
# KH&CN, KH&ĐT into Tài chính, TN&MT into Nông nghiệp và Môi trường, LĐTBXH into Nội vụ).
_DEPARTMENT_KEYWORDS: dict[str, tuple[str, ...]] = {
    "TP": ("tư pháp",),
    "KH": ("kế hoạch và đầu tư", "tài chính"),
    "TM": ("tài nguyên và môi trường", "nông nghiệp và môi trường"),
    "TT": ("thông tin và truyền thông", "khoa học và công nghệ"),
    "XD": ("xây dựng",),
    "GT": ("giao thông vận tải", "xây dựng"),
    "YT": ("y tế",),
    "GD": ("giáo dục",),
    "LD": ("lao động", "nội vụ"),
    "NN": ("nông nghiệp",),
    "CT": ("công thương",),
    "VH": ("văn hóa", "văn hoá"),
    "KC": ("khoa học và công nghệ",),
    "TC": ("tài chính",),
    "NV": ("nội vụ",),
    "TTR": ("thanh tra",),
    "DT": ("dân tộc",),
    "KCN": ("khu công nghiệp", "khu kinh tế"),
}


# --- rollout curves ------------------------------------------------------------------------
Knots = tuple[tuple[int, int, float], ...]  # (year, month, value), piecewise linear by month

# Cumulative shares of procedures at level ≥2 / ≥3 / 4 (Hà Giang 2018 ≈ 73/51/25%).
LEVEL2_SHARE: Knots = ((2016, 1, 0.55), (2018, 7, 0.73), (2020, 12, 0.90), (2022, 6, 0.96))
LEVEL3_SHARE: Knots = (
    (2016, 1, 0.12),
    (2018, 7, 0.45),
    (2019, 7, 0.52),
    (2020, 12, 0.65),
    (2022, 6, 0.80),
)
LEVEL4_SHARE: Knots = (
    (2016, 1, 0.03),
    (2018, 7, 0.20),
    (2019, 7, 0.24),
    (2020, 12, 0.32),
    (2022, 6, 0.42),
)
# Share of eligible procedures provided toàn trình (seed 001: 100% target by end of 2023,
# reached in practice around mid-2025).
FULL_ONLINE_SHARE: Knots = (
    (2022, 8, 0.35),
    (2023, 6, 0.50),
    (2023, 12, 0.80),
    (2024, 12, 0.94),
    (2025, 6, 1.00),
)
# Share of online-capable procedures integrated with the national portal (NQ 17: 30% by 2020,
# 100% 2021–2025).
INTEGRATION_SHARE: Knots = (
    (2018, 1, 0.0),
    (2019, 1, 0.08),
    (2020, 12, 0.30),
    (2021, 12, 0.55),
    (2023, 12, 0.85),
    (2025, 6, 1.00),
)
# Share of fee-bearing level-3 / một phần procedures with online payment (level 4 and toàn
# trình always have it: that is part of their definition).
PAYMENT_SHARE: Knots = (
    (2019, 1, 0.02),
    (2020, 12, 0.15),
    (2022, 6, 0.40),
    (2023, 12, 0.75),
    (2025, 6, 0.95),
)
_SHIFT_SHARE = 0.06  # a province's level shares are up to ±6 points off the curves
_SHIFT_MONTHS = 3  # and its toàn trình rollout up to ±3 months early or late


def month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


@lru_cache(maxsize=4096)
def _curve_at(knots: Knots, index: int) -> float:
    points = [(y * 12 + m - 1, v) for y, m, v in knots]
    if index <= points[0][0]:
        return points[0][1]
    for (i0, v0), (i1, v1) in itertools.pairwise(points):
        if index <= i1:
            return v0 + (v1 - v0) * (index - i0) / (i1 - i0)
    return points[-1][1]


def curve(knots: Knots, day: date, shift_months: int = 0) -> float:
    """Value of a rollout curve for ``day``'s month (constant within a month)."""
    return _curve_at(knots, month_index(day) + shift_months)


# --- the catalogue -------------------------------------------------------------------------
@dataclass(frozen=True)
class CatalogueProcedure:
    """A procedure as one province implements it; its state on a day comes from its ranks."""

    code: str
    name: str
    field_code: str
    field_name: str
    ministry: str
    authority: str  # tinh, huyen, xa (cap_thuc_hien)
    tier: str  # agency tier that handles it
    working_days: int
    weight: float  # relative dossier volume (heavy-tailed)
    applicant: str  # "1" citizen, "2" business
    fee_vnd: int
    eligible_full_online: bool
    province_code: str
    readiness: float  # level rank: lower = online earlier
    full_online_rank: float  # among eligible: lower = toàn trình earlier
    integration_rank: float
    payment_rank: float
    shift: float  # the province's offset from the national curves, in [-1, 1]
    stopped_from: date | None = field(default=None)

    @property
    def fee_bearing(self) -> bool:
        return self.fee_vnd > 0

    def active_on(self, day: date) -> bool:
        return self.stopped_from is None or day < self.stopped_from


def _legacy_level(proc: CatalogueProcedure, day: date) -> int:
    share = proc.shift * _SHIFT_SHARE
    r = proc.readiness
    if r < curve(LEVEL4_SHARE, day) + share:
        return 4
    if r < curve(LEVEL3_SHARE, day) + share:
        return 3
    if r < curve(LEVEL2_SHARE, day) + share:
        return 2
    return 1


def level_on(proc: CatalogueProcedure, day: date) -> str:
    """Service level on ``day``: "1".."4" until 2022-07, "toan_trinh"/"mot_phan" after."""
    if day < DECREE_42_START:
        return str(_legacy_level(proc, day))
    if proc.eligible_full_online:
        shift = round(proc.shift * _SHIFT_MONTHS)
        if proc.full_online_rank < curve(FULL_ONLINE_SHARE, day, shift):
            return "toan_trinh"
    return "mot_phan"


def online_capable(level: str) -> bool:
    """Whether a dossier can be submitted online at this level (level ≥3 or post-NĐ 42)."""
    return level not in {"1", "2"}


def legacy_level_before_decree(proc: CatalogueProcedure) -> int:
    """The last 1–4 level (June 2022): how ready a một phần procedure really is."""
    return _legacy_level(proc, date(2022, 6, 1))


def integrated_on(proc: CatalogueProcedure, day: date) -> bool:
    """Integrated with the national portal (DVCQG) on ``day``."""
    return online_capable(level_on(proc, day)) and proc.integration_rank < curve(
        INTEGRATION_SHARE, day
    )


def online_payment_on(proc: CatalogueProcedure, day: date) -> bool:
    """Online payment enabled: fee-bearing and level 4 / toàn trình, or rolled out on level 3."""
    if not proc.fee_bearing:
        return False
    level = level_on(proc, day)
    if level in {"4", "toan_trinh"}:
        return True
    return online_capable(level) and proc.payment_rank < curve(PAYMENT_SHARE, day)


# --- building ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _NationalProcedure:
    code: str
    name: str
    field: _Field
    working_days: int
    applicant: str
    fee_vnd: int
    base_weight: float
    real: Procedure | None


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _names_for(fld: _Field) -> list[tuple[str, str]]:
    """All (kind, name) pairs a field's templates give, objects first then verb variants."""
    by_verb: list[list[tuple[str, str]]] = []
    for entry in fld.objects:
        kind, _, obj = entry.partition(":")
        if kind == "x":
            by_verb.append([("x", obj)])
        elif kind == "m":  # "template;template=object;object": every combination
            templates, _, objects = obj.partition("=")
            for o in objects.split(";"):
                by_verb.append([("x", t.format(o=o)) for t in templates.split(";")])
        else:
            by_verb.append([(kind, verb.format(o=obj)) for verb in _VERBS[kind]])
    # Interleave so that a small quota still spreads over the field's objects.
    out: list[tuple[str, str]] = []
    for i in range(max(len(v) for v in by_verb)):
        out.extend(v[i] for v in by_verb if i < len(v))
    return out


def _quota(total: int, sizes: Sequence[float]) -> list[int]:
    """Split ``total`` proportionally to ``sizes`` (largest remainders), at least 1 each."""
    scale = sum(sizes)
    raw = [total * s / scale for s in sizes]
    base = [max(1, math.floor(r)) for r in raw]
    order = sorted(range(len(sizes)), key=lambda i: raw[i] - math.floor(raw[i]), reverse=True)
    i = 0
    while sum(base) < total:
        base[order[i % len(order)]] += 1
        i += 1
    return base


def _fee(rng: random.Random, kind: str) -> int:
    if rng.random() >= _KIND_FEE_SHARE.get(kind, 0.3):
        return 0
    return rng.choice(_BIG_FEES if kind in {"a", "p"} and rng.random() < 0.4 else _FEES)


def _new_code(rng: random.Random, used: set[str]) -> str:
    while True:
        prefix = rng.choices(("1", "2", "3"), (0.68, 0.3, 0.02))[0]
        code = f"{prefix}.{rng.randrange(200, 13_000):06d}"
        if code not in used:
            used.add(code)
            return code


@lru_cache(maxsize=8)
def _national_list(seed: int, size: int) -> tuple[_NationalProcedure, ...]:
    """The national TTHC list all provinces draw from, so codes mean the same everywhere."""
    rng = random.Random(f"{seed}|catalogue|national")
    field_of = {f.code: f for f in _FIELDS}
    used = {p.code for p in PROCEDURES}
    names_used = {p.name for p in PROCEDURES}
    out: list[_NationalProcedure] = [
        _NationalProcedure(
            p.code,
            _nfc(p.name),
            field_of[p.field_code],
            p.working_days,
            p.applicant,
            _REAL_FEES[p.code],
            p.weight * _REAL_WEIGHT_BOOST,
            p,
        )
        for p in PROCEDURES
    ]
    for authority, share in _AUTHORITY_SHARE.items():
        fields = [f for f in _FIELDS if f.authority == authority]
        real_in = {f.code: sum(p.field_code == f.code for p in PROCEDURES) for f in fields}
        quotas = _quota(max(len(fields), round(size * share)), [f.size for f in fields])
        for fld, quota in zip(fields, quotas, strict=True):
            out.extend(_field_procedures(rng, fld, quota - real_in[fld.code], used, names_used))
    return tuple(out)


def _field_procedures(
    rng: random.Random, fld: _Field, quota: int, used: set[str], names_used: set[str]
) -> Iterable[_NationalProcedure]:
    candidates = _names_for(fld)
    audience = _QUALIFIERS_BUSINESS if fld.business >= 0.5 else _QUALIFIERS_CITIZEN
    qualifiers = [q.format(level=_LEVEL_WORD[fld.authority]) for q in _QUALIFIERS_COMMON]
    qualified = [(k, n + q) for q in (*qualifiers, *audience) for k, n in candidates]
    made = 0
    for kind, name in candidates + qualified:
        if made >= quota:
            return
        name = _nfc(name)
        if name in names_used:
            continue
        names_used.add(name)
        made += 1
        days = rng.choice(_SHORT_DAYS if fld.authority == "xa" else _KIND_DAYS[kind])
        yield _NationalProcedure(
            code=_new_code(rng, used),
            name=name,
            field=fld,
            working_days=days,
            applicant="2" if rng.random() < fld.business else "1",
            fee_vnd=_fee(rng, kind),
            base_weight=math.exp(rng.gauss(-3.0, 1.5)),
            real=None,
        )


def _readiness_for_real(real: Procedure, shift: float) -> float:
    """A readiness that puts a real procedure at its documented 2020 level."""
    when = date(2020, 1, 1)
    offset = shift * _SHIFT_SHARE
    s4 = curve(LEVEL4_SHARE, when) + offset
    s3 = curve(LEVEL3_SHARE, when) + offset
    s2 = curve(LEVEL2_SHARE, when) + offset
    bounds = {4: (0.0, s4), 3: (s4, s3), 2: (s3, s2), 1: (s2, 1.0)}[real.level]
    return (bounds[0] + bounds[1]) / 2


def _stop_date(rng: random.Random) -> date:
    index = rng.randrange(2019 * 12, 2026 * 12 + 6)
    return date(index // 12, index % 12 + 1, 1)


@lru_cache(maxsize=16)
def _province_catalogue(
    seed: int, province_code: str, size: int, eligible_share: float
) -> tuple[CatalogueProcedure, ...]:
    national = _national_list(seed, math.ceil(size * _NATIONAL_OVERSIZE))
    rng = random.Random(f"{seed}|catalogue|{province_code}")
    shift = rng.uniform(-1.0, 1.0)
    real = [p for p in national if p.real is not None]
    others = [p for p in national if p.real is None]
    picked = real + rng.sample(others, max(0, min(len(others), size - len(real))))
    picked.sort(key=lambda p: p.code)

    draws = []
    for p in picked:
        r = random.Random(f"{seed}|catalogue|{province_code}|{p.code}")
        readiness = _readiness_for_real(p.real, shift) if p.real else r.random()
        score = readiness - 0.3 * p.field.eligible_bias + r.gauss(0.0, 0.15)
        stopped = _stop_date(r) if p.real is None and r.random() < _STOP_SHARE else None
        weight = p.base_weight * r.uniform(0.7, 1.3)
        draws.append((readiness, score, stopped, weight, r.random(), r.random(), r.gauss(0, 0.1)))

    eligible = _eligible_codes(picked, [d[1] for d in draws], eligible_share)
    ranks = _full_online_ranks(picked, draws, eligible)
    out = []
    for p, (readiness, _, stopped, weight, integ, pay, _) in zip(picked, draws, strict=True):
        out.append(
            CatalogueProcedure(
                code=p.code,
                name=p.name,
                field_code=p.field.code,
                field_name=_nfc(p.field.name),
                ministry=p.field.ministry,
                authority=p.field.authority,
                tier=TIER_OF_AUTHORITY[p.field.authority],
                working_days=p.working_days,
                weight=weight,
                applicant=p.applicant,
                fee_vnd=p.fee_vnd,
                eligible_full_online=p.code in eligible,
                province_code=province_code,
                readiness=readiness,
                full_online_rank=ranks.get(p.code, 1.0),
                integration_rank=integ,
                payment_rank=pay,
                shift=shift,
                stopped_from=stopped,
            )
        )
    return tuple(out)


def _eligible_codes(
    picked: Sequence[_NationalProcedure], scores: Sequence[float], share: float
) -> frozenset[str]:
    """The ``share`` most-ready procedures (real ones by their known status) are eligible."""
    quota = round(share * len(picked))
    forced = [
        p.code
        for p in picked
        if (p.real is not None and p.code in _REAL_ELIGIBLE)
        or (p.real is None and p.field.eligible_bias >= _ALWAYS_ELIGIBLE_BIAS)
    ]
    pool = sorted(
        (s, p.code)
        for p, s in zip(picked, scores, strict=True)
        if p.real is None and p.field.eligible_bias < _ALWAYS_ELIGIBLE_BIAS
    )
    return frozenset(forced + [code for _, code in pool[: max(0, quota - len(forced))]])


def _full_online_ranks(
    picked: Sequence[_NationalProcedure], draws: Sequence[tuple], eligible: frozenset[str]
) -> dict[str, float]:
    """Uniform ranks among eligible procedures: the most ready go toàn trình first."""
    order = sorted(
        (d[0] + d[6], p.code) for p, d in zip(picked, draws, strict=True) if p.code in eligible
    )
    n = len(order) or 1
    return {code: (i + 0.5) / n for i, (_, code) in enumerate(order)}


# --- results -------------------------------------------------------------------------------
# Procedures that hand the applicant no result document (a notification the agency only takes
# note of, a registration acknowledged in the dossier itself): their dossiers can have no
# electronic result, and QĐ 766 item 4.1 leaves them out of its denominator. The real
# procedures kept verbatim all return one.
NO_RESULT_SHARE = 0.06
RESULT_DOCUMENTS = (
    "Giấy phép",
    "Giấy chứng nhận",
    "Quyết định hành chính",
    "Văn bản chấp thuận",
    "Giấy xác nhận",
)
_REAL_CODES = frozenset(p.code for p in PROCEDURES)


def returns_result(seed: int, procedure_code: str) -> bool:
    """Whether the procedure hands out a result document (the same in every province)."""
    if procedure_code in _REAL_CODES:
        return True
    return random.Random(f"{seed}|result|{procedure_code}").random() >= NO_RESULT_SHARE


def result_document(seed: int, procedure_code: str) -> str | None:
    """The result document a procedure hands out (None: it returns none)."""
    if not returns_result(seed, procedure_code):
        return None
    return random.Random(f"{seed}|result-document|{procedure_code}").choice(RESULT_DOCUMENTS)


def catalogue_for_province(cfg: SimulatorConfig, province_code: str) -> list[CatalogueProcedure]:
    """The province's procedure catalogue, sorted by code (cached; same cfg → same list)."""
    return list(
        _province_catalogue(
            cfg.seed,
            province_code,
            cfg.procedures_per_province,
            cfg.full_online_eligible_share,
        )
    )


def province_catalogue(cfg: SimulatorConfig, province_code: str) -> tuple[CatalogueProcedure, ...]:
    """Same as :func:`catalogue_for_province` but the cached tuple itself (no copy)."""
    return _province_catalogue(
        cfg.seed, province_code, cfg.procedures_per_province, cfg.full_online_eligible_share
    )


# --- who offers what -----------------------------------------------------------------------
class AgencyLike(Protocol):
    code: str
    name: str
    tier: str
    province_code: str

    def valid_on(self, day: date) -> bool: ...


def _fold(text: str) -> str:
    return _nfc(text).casefold()


def department_ministries(
    agencies: Iterable[AgencyLike], province_code: str, day: date
) -> dict[str, frozenset[str]]:
    """Ministry families each valid department of the province handles on ``day``.

    A family goes to the departments whose name matches its first matching keyword (so fields
    follow their department through mergers). Departments no keyword matches (e.g. a Ban or a
    Văn phòng) share the families nobody else took, dealt out in code order.
    """
    depts = sorted(
        (
            a
            for a in agencies
            if a.tier == "province_dept" and a.province_code == province_code and a.valid_on(day)
        ),
        key=lambda a: a.code,
    )
    taken: dict[str, set[str]] = {a.code: set() for a in depts}
    unclaimed: list[str] = []
    for ministry, keywords in _DEPARTMENT_KEYWORDS.items():
        for keyword in keywords:
            matches = [a for a in depts if keyword in _fold(a.name)]
            if matches:
                for a in matches:
                    taken[a.code].add(ministry)
                break
        else:
            unclaimed.append(ministry)
    idle = [a.code for a in depts if not taken[a.code]]
    for i, ministry in enumerate(unclaimed):
        if idle:
            taken[idle[i % len(idle)]].add(ministry)
    families = sorted(_DEPARTMENT_KEYWORDS)
    for code in idle:
        if not taken[code]:  # more idle departments than leftover families: share one
            taken[code].add(families[zlib.crc32(code.encode()) % len(families)])
    return {code: frozenset(m) for code, m in taken.items()}


def offered_procedures(
    cfg: SimulatorConfig,
    agency: AgencyLike,
    day: date,
    agencies: Sequence[AgencyLike],
) -> tuple[CatalogueProcedure, ...]:
    """Procedures ``agency`` handles on ``day`` (listed even when stopped; see ``active_on``).

    Departments handle their ministries' provincial fields; districts the huyện procedures;
    communes the xã procedures, plus the huyện ones from the two-tier reform on.
    """
    ministries: frozenset[str] = frozenset()
    if agency.tier == "province_dept":
        by_dept = department_ministries(agencies, agency.province_code, day)
        ministries = by_dept.get(agency.code, frozenset())
    return offering(cfg, agency.province_code, agency.tier, ministries, day >= TWO_TIER_START)


def offering(
    cfg: SimulatorConfig,
    province_code: str,
    tier: str,
    ministries: frozenset[str],
    two_tier: bool,
) -> tuple[CatalogueProcedure, ...]:
    """What an agency of ``tier`` offers, given its ministries (departments only); cached."""
    return _offering(
        cfg.seed,
        province_code,
        cfg.procedures_per_province,
        cfg.full_online_eligible_share,
        tier,
        ministries,
        two_tier,
    )


@lru_cache(maxsize=1024)
def _offering(
    seed: int,
    province_code: str,
    size: int,
    eligible_share: float,
    tier: str,
    ministries: frozenset[str],
    two_tier: bool,
) -> tuple[CatalogueProcedure, ...]:
    catalogue = _province_catalogue(seed, province_code, size, eligible_share)
    if tier == "province_dept":
        return tuple(p for p in catalogue if p.authority == "tinh" and p.ministry in ministries)
    authorities = {AUTHORITY_OF_TIER.get(tier, "")}
    if tier == "commune" and two_tier:
        authorities.add("huyen")
    return tuple(p for p in catalogue if p.authority in authorities)
