"""Batch volume signals: planted near-duplicates and same-issue clusters, repeat contacts."""

import pytest

from triage.segment import Segmenter
from triage.volume import cluster_sizes, find_clusters, repeat_contacts

SEG = Segmenter(backend="jieba")

BATCH = [
    # planted near-duplicates: one complaint pasted with small edits
    "快递三天了还没到，打客服电话一直没人接，订单号2023****8891，要求马上处理",
    "快递三天了还没到！打客服电话一直没人接，订单号2023****8891，要求尽快处理",
    "快递3天了还没到，客服电话一直没人接，订单号2023****8891，要求马上处理！！",
    # the same incident retold by different customers: product name and batch number recur
    "用了凝露修护霜三天脸上起红疹，批号B2608，要求退款",
    "凝露修护霜批号B2608的有问题吧，我女儿用完满脸过敏",
    "记者来电了解凝露修护霜B2608批次过敏投诉的情况",
    # unrelated
    "信用卡年费莫名其妙扣了300元，办卡时说免年费",
    "4S店加价两万才给提车，还强制买装潢",
    "外卖洒了一半，汤全漏在袋子里",
    "很满意，物流快，包装好",
]


def test_planted_near_duplicates_and_same_issue_are_grouped():
    ids = find_clusters(BATCH, SEG, is_common=lambda w: w in {"要求", "客服", "电话", "处理", "退款", "投诉"})
    assert ids[0] == ids[1] == ids[2]
    assert ids[3] == ids[4] == ids[5]
    assert ids[0] != ids[3]
    assert len({ids[i] for i in range(6, 10)}) == 4 and not {ids[i] for i in range(6, 10)} & {ids[0], ids[3]}
    assert cluster_sizes(ids)[:7] == [3, 3, 3, 3, 3, 3, 1]


def test_cluster_size_counts_distinct_customers():
    ids = [0, 0, 0, 5]
    assert cluster_sizes(ids, ["a", "a", "b", "c"]) == [2, 2, 2, 1]
    assert cluster_sizes(ids, ["a", None, float("nan"), "c"]) == [3, 3, 3, 1]


def test_missing_texts_stay_alone():
    ids = find_clusters(["", None, "快递丢了快递丢了快递丢了", "", "   "], SEG)
    assert len(set(ids)) == 5  # empty texts are not copies of one another


@pytest.mark.parametrize(
    "customers, received, expected",
    [
        (["a", "b", "a", "a"], None, [0, 0, 1, 2]),
        (["a", "b", "a", None], ["2026-11-03", "2026-11-01", "2026-11-02", None], [1, 0, 0, 0]),
        ([" a", "a ", "", float("nan")], None, [0, 1, 0, 0]),
    ],
)
def test_repeat_contacts(customers, received, expected):
    assert repeat_contacts(customers, received) == expected
