"""Settings precedence: defaults < factcheck.toml < environment < flags."""

from __future__ import annotations

import pytest

from factcheck.settings import SettingsError, load_settings


def test_defaults(tmp_path):
    s = load_settings(environ={}, desk_dir=tmp_path)
    assert s.db == "sqlite:///factcheck.db"
    assert s.origins["db"] == "default"
    assert s.max_bytes == 10 * 1024 * 1024
    assert s.allow_private_addresses is False


def test_precedence_file_env_flag(tmp_path):
    (tmp_path / "factcheck.toml").write_text('per_host_delay = 2.5\nconcurrency = 3\nretries = 7\n')
    s = load_settings({"retries": 1}, environ={"FACTCHECK_CONCURRENCY": "5", "FACTCHECK_RETRIES": "9"},
                      desk_dir=tmp_path)
    assert (s.per_host_delay, s.origins["per_host_delay"]) == (2.5, "file factcheck.toml")
    assert (s.concurrency, s.origins["concurrency"]) == (5, "environment FACTCHECK_CONCURRENCY")
    assert (s.retries, s.origins["retries"]) == (1, "flag")


def test_factcheck_table_in_toml(tmp_path):
    (tmp_path / "factcheck.toml").write_text('[factcheck]\nallow_private_addresses = true\n')
    assert load_settings(environ={}, desk_dir=tmp_path).allow_private_addresses is True


def test_bool_from_environment(tmp_path):
    s = load_settings(environ={"FACTCHECK_ALLOW_PRIVATE_ADDRESSES": "1"}, desk_dir=tmp_path)
    assert s.allow_private_addresses is True


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ("nonsense = 1\n", {}, "unknown setting 'nonsense'"),
        ("retries = 'many'\n", {}, "retries must be int"),
        ("retries = [\n", {}, "not valid TOML"),
        ("", {"FACTCHECK_OBEY_ROBOTS": "maybe"}, "obey_robots must be true or false"),
    ],
)
def test_bad_settings_are_named(tmp_path, toml, env, message):
    (tmp_path / "factcheck.toml").write_text(toml)
    with pytest.raises(SettingsError, match=message):
        load_settings(environ=env, desk_dir=tmp_path)


def test_evidence_path_relative_to_desk(tmp_path):
    s = load_settings(environ={}, desk_dir=tmp_path)
    assert s.evidence_path == tmp_path / "evidence"
