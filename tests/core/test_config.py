"""Settings from a YAML file and from flags give the same run; bad settings are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from segmint.agent.core.config import load_config, parse_pairs
from segmint.agent.core.errors import InputError


def test_yaml_and_flags_agree(tmp_path: Path) -> None:
    cfg_file = tmp_path / "shop.yaml"
    cfg_file.write_text(
        "map:\n  user_id: CustomerID\n  timestamp: InvoiceDate\nattr:\n  country: Country\n"
        "users: people.csv\nas-of: 2011-12-09\nseed: 3\n"
    )
    from_file = load_config(cfg_file)
    from_flags = load_config(
        None,
        column_map=parse_pairs(["user_id=CustomerID", "timestamp=InvoiceDate"], "--map"),
        attributes=parse_pairs(["country=Country"], "--attr"),
        users=tmp_path / "people.csv", as_of="2011-12-09", seed=3,
    )
    assert from_file == from_flags


def test_flags_override_and_merge_with_file(tmp_path: Path) -> None:
    cfg_file = tmp_path / "shop.yaml"
    cfg_file.write_text("map:\n  user_id: CustomerID\n  text: Description\nseed: 3\n")
    cfg = load_config(cfg_file, column_map={"text": "Title"}, seed=9)
    assert cfg.column_map == {"user_id": "CustomerID", "text": "Title"}
    assert cfg.seed == 9


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mapp:\n  user_id: x\n", "setting 'mapp'"),
        ("map:\n  customer: x\n", "unknown column 'customer'"),
        ("attr:\n  Country Name: x\n", "lower_snake_case"),
        ("seed: many\n", "setting 'seed'"),
        ("map: [\n", "not valid YAML"),
        ("- a\n- b\n", "mapping of settings"),
    ],
)
def test_bad_settings_name_the_file_and_setting(tmp_path: Path, text: str, message: str) -> None:
    cfg_file = tmp_path / "shop.yaml"
    cfg_file.write_text(text)
    with pytest.raises(InputError) as info:
        load_config(cfg_file)
    assert message in str(info.value) and "shop.yaml" in str(info.value)
    assert "\n" not in str(info.value)


def test_pairs_need_an_equals_sign() -> None:
    with pytest.raises(InputError, match="--map NAME=SOURCE"):
        parse_pairs(["user_id"], "--map")
