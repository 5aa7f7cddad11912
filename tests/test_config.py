import pytest

from triage.config import load_config
from triage.errors import ConfigError


def test_defaults_load_and_are_read_only():
    cfg = load_config()
    assert cfg.routing.departments["counterfeit"] == "打假/法务"
    with pytest.raises(TypeError):
        cfg.routing.departments["counterfeit"] = "x"


def test_partial_override_from_toml(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[routing.departments]\nquality = "品控中心"\n[severity.levels]\ncrisis = 80\n', encoding="utf-8")
    cfg = load_config(path)
    assert cfg.routing.departments["quality"] == "品控中心"
    assert cfg.routing.departments["price"] == "财务/价格"  # untouched default
    assert cfg.severity.levels["crisis"] == 80


def test_open_tables_accept_new_labels():
    cfg = load_config({"routing": {"departments": {"售后维修": "售后部"}}})
    assert cfg.routing.departments["售后维修"] == "售后部"


@pytest.mark.parametrize(
    "override, message",
    [
        ({"severity": {"levels": {"crisis": 10}}}, r"severity.levels.*must rise"),
        ({"routing": {"sla": {"crisis": {"respond": "soon"}}}}, r"'routing.sla.crisis.respond' must be a number"),
        ({"routing": {"sla": {"major": {"respond": 100, "resolve": 48}}}}, r"respond \(100 h\) must not be later"),
        ({"colour": "red"}, r"Unknown config key 'colour'. Allowed keys here: classify, normalize, routing, severity"),
        ({"severity": {"emotion": {"maxx": 3}}}, r"Unknown config key 'severity.emotion.maxx'"),
        ({"severity": {"content": {"max": 90}}}, r"add up to 160"),
        ({"normalize": {"opencc": "s2t"}}, r"must be one of 't2s'"),
        ({"routing": {"review": {"auto_min": 1.5}}}, r"'routing.review.auto_min' must be within 0..1, got 1.5"),
        ({"severity": {"money": {"brackets": [[1000, 5], [100, 2]]}}}, r"both amounts and points rising"),
        ({"normalize": {"mask_pii": "yes"}}, r"must be true or false"),
        ({"routing": "x"}, r"'routing' must be a table"),
    ],
)
def test_invalid_config_names_key_value_and_rule(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(override)


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[routing\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
