"""docs/configuration.md is generated from `Settings`: stale, it fails here; secrets' defaults never show."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field, SecretStr

from agent import config_docs
from agent.config import Settings

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "configuration.md"


def test_the_configuration_page_is_what_the_settings_give() -> None:
    page = PAGE.read_text(encoding="utf-8")
    assert config_docs.update(page) == page, (
        "docs/configuration.md is stale: run `python -m agent.config_docs`"
    )


def test_every_setting_has_a_row_with_its_default() -> None:
    rows = {
        line.split(" | ")[0].strip("|` ") for line in PAGE.read_text().splitlines() if line.startswith("| `")
    }
    assert set(Settings.model_fields) <= rows
    assert "| `PORT` | int | `9001` |" in PAGE.read_text()


def test_a_secrets_default_is_never_printed() -> None:
    class WithDefaults(Settings):
        API_TOKEN: SecretStr = Field(default=SecretStr("s3cr3t-default"), description="a token")

    text = config_docs.render(WithDefaults)
    assert "s3cr3t-default" not in text
    assert "| `API_TOKEN` | secret | *(secret)* | a token |" in text


def test_a_setting_without_a_description_is_refused() -> None:
    class Undescribed(Settings):
        NEW_KNOB: int = 3

    with pytest.raises(ValueError, match="NEW_KNOB"):
        config_docs.render(Undescribed)


def test_the_command_rewrites_a_stale_page_and_check_says_so(tmp_path: Path) -> None:
    page = tmp_path / "configuration.md"
    page.write_text(f"# Configuration\n\n{config_docs.BEGIN}\nold rows\n{config_docs.END}\n\nafter\n")
    assert config_docs.main(["--page", str(page), "--check"]) == 1
    assert config_docs.main(["--page", str(page)]) == 0
    assert config_docs.main(["--page", str(page), "--check"]) == 0
    text = page.read_text()
    assert text.startswith("# Configuration\n") and text.endswith("\nafter\n") and "old rows" not in text
    assert "| `LOG_LEVEL` |" in text


def test_a_page_without_the_markers_is_an_error() -> None:
    with pytest.raises(ValueError, match="markers"):
        config_docs.update("# Configuration\n")
