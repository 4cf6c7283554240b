"""Prices come from the price map of the pinned LiteLLM, through a committed extract that a test
keeps equal to a fresh one: never a hand-typed table, never a model priced as free by omission."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml
from spec_edits import REPO_ROOT, base_text, edit, line_of, problems

from gateway_config.build import render_environment
from gateway_config.loader import load_spec
from gateway_config.prices import PRICES_FILE, PriceError, extract_text, load_price_map, model_price

LITELLM_PACKAGES = sorted((REPO_ROOT / "runtime" / "litellm" / ".venv" / "lib").glob("python3*/site-packages/litellm"))


def _runtime_litellm_version() -> str:
    text = (REPO_ROOT / "runtime" / "litellm" / "requirements.txt").read_text()
    (version,) = re.findall(r"^litellm(?:\[[a-z,]+\])?==([0-9.]+)", text, re.MULTILINE)
    return version


def test_the_extract_is_of_the_pinned_litellm() -> None:
    assert load_price_map().litellm_version == _runtime_litellm_version()


def test_the_extract_equals_a_fresh_one_of_the_installed_package() -> None:
    if not LITELLM_PACKAGES:
        message = "runtime/litellm/.venv is not installed: make runtime-litellm"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    assert extract_text(LITELLM_PACKAGES[0]) == PRICES_FILE.read_text(), "run `make prices`"


def test_a_model_is_priced_by_its_own_providers_entry() -> None:
    assert model_price("openai", "gpt-4o", None).input_per_token == 2.5e-06
    # DeepSeek's own entry is not OpenRouter's price: without price_as it is refused, not borrowed.
    with pytest.raises(PriceError, match="no openrouter entry for 'deepseek/deepseek-chat'"):
        model_price("openrouter", "deepseek/deepseek-chat", None)
    assert model_price("openrouter", "deepseek/deepseek-chat", "deepseek/deepseek-chat").key == "deepseek/deepseek-chat"
    with pytest.raises(PriceError, match="price_as 'no/such-model' is not a key"):
        model_price("openai", "gpt-4o", "no/such-model")


def test_an_unpriced_model_is_a_spec_error_at_its_id() -> None:
    text = edit(base_text(), ("id: claude-haiku-4-5-20251001", "id: claude-3-5-haiku-20241022"))
    line = line_of(text, "id: claude-3-5-haiku-20241022")
    assert problems(text) == [
        f"spec.yaml:{line}: models.claude-haiku.id: LiteLLM 1.106.12's price map has no anthropic entry for "
        "'claude-3-5-haiku-20241022', so its cost could not be measured or budgeted; use a model the map knows, "
        "or set price_as to a key of gateway_config/litellm_prices.json"
    ]


def test_a_bad_price_as_is_named_at_its_key() -> None:
    text = edit(base_text(), ("price_as: deepseek/deepseek-chat", "price_as: deepseek/nope"))
    (line,) = problems(text)
    assert line.startswith(f"spec.yaml:{line_of(text, 'price_as: deepseek/nope')}: models.deepseek-chat.price_as: ")


def test_every_litellm_deployment_carries_its_map_price() -> None:
    spec = load_spec(REPO_ROOT / "gateway_config" / "routing.yaml")
    prices = json.loads(PRICES_FILE.read_text())["models"]
    for environment in ("staging", "prod", "local"):
        config = yaml.safe_load(render_environment(spec, environment)["litellm/config.yaml"])
        for deployment in config["model_list"]:
            params = deployment["litellm_params"]
            model = spec.models[deployment["model_info"].get("target_model") or "text-embedding-3-small"]
            key = model.price_as or model.id
            assert params["input_cost_per_token"] == prices[key]["input_cost_per_token"], deployment["model_info"]
            assert params["output_cost_per_token"] == prices[key].get("output_cost_per_token", 0.0)


def test_the_prices_file_is_not_hand_edited() -> None:
    data = json.loads(Path(PRICES_FILE).read_text())
    assert data["generated_by"].startswith("make prices")
    assert re.fullmatch(r"[0-9a-f]{64}", data["source_sha256"])
