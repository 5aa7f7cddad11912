import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.normalize import (
    _CONTROL_RE,
    _OTHER_SPACE,
    _SURROGATE_RE,
    clean_whitespace,
    mask_pii,
    nfkc,
    normalize,
    normalize_text,
    to_simplified,
)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("ＶＩＰ１２３ａｂｃ", "VIP123abc"),
        ("！？，", "!?,"),
        ("４Ｓ店", "4S店"),
        ("①", "1"),
    ],
)
def test_nfkc_folds_full_width(raw, expected):
    assert nfkc(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("買到假貨", "买到假货"),
        ("專櫃說防偽碼查不到", "专柜说防伪码查不到"),
        ("經銷商串貨，態度惡劣", "经销商串货，态度恶劣"),
        ("已经是简体", "已经是简体"),
    ],
)
def test_traditional_to_simplified(raw, expected):
    assert to_simplified(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("a\x00b", "a b"),
        ("  多个   空格\n\n换行\t", "多个 空格 换行"),
        ("零宽\u200b字符", "零宽 字符"),
        ("坏\ud800字", "坏字"),
        ("\ufeff开头有BOM", "开头有BOM"),
    ],
)
def test_clean_whitespace(raw, expected):
    assert clean_whitespace(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("电话13812345678请回电", "电话[手机号]请回电"),
        ("手机 +86 138-1234-5678", "手机 [手机号]"),
        ("身份证110101199003071234", "身份证[身份证号]"),
        ("身份证11010119900307123X号", "身份证[身份证号]号"),
        ("卡号 4111 1111 1111 1111", "卡号 [银行卡号]"),
        ("邮箱 zhang.san@example.com 联系", "邮箱 [邮箱] 联系"),
        # Not personal data: order numbers failing the card check, amounts, masked numbers.
        ("订单号202312120000888123456", "订单号202312120000888123456"),
        ("花了1999元", "花了1999元"),
        ("尾号6677", "尾号6677"),
        ("138****5521", "138****5521"),
    ],
)
def test_mask_pii(raw, expected):
    assert mask_pii(raw) == expected


def test_normalize_chains_every_step():
    assert normalize("  買到假貨！！手機１３８１２３４５６７８  ") == "买到假货!!手机[手机号]"


def test_normalize_can_keep_pii():
    assert "13812345678" in normalize("手机13812345678", mask=False)


def test_normalize_text_truncates_and_counts_bad_characters():
    out = normalize_text("投诉" * 100 + "\ud800", max_chars=50)
    assert out.truncated and len(out.text) == 50 and out.invalid_characters == 1
    assert not normalize_text("短文本", max_chars=50).truncated


# The fast paths of nfkc and clean_whitespace must give exactly what the plain definitions give.
_MIXED = st.text(
    alphabet=st.sampled_from(
        list("ａＡ１！，　 \t\n\r\x00\x1f\x7f\x85\xa0\u200b\u2028\u3000\ufeff中國é①ｶﾞ가\u1100\u1161\u0301\uf900")
        + ["\ud800", "e", "A", "1", "!"]
    ),
    max_size=12,
)


@settings(max_examples=3000, deadline=None)
@given(_MIXED)
def test_nfkc_fast_path_equals_unicodedata(text):
    assert nfkc(text) == unicodedata.normalize("NFKC", text)


@settings(max_examples=3000, deadline=None)
@given(_MIXED)
def test_clean_whitespace_fast_path_equals_the_substitutions(text):
    expected = re.sub(r"\s+", " ", _CONTROL_RE.sub(" ", _SURROGATE_RE.sub("", text))).strip()
    assert clean_whitespace(text) == expected


def test_other_space_lists_every_whitespace_character():
    assert set(_OTHER_SPACE) == {chr(c) for c in range(0x110000) if chr(c).isspace()} - {" "}
