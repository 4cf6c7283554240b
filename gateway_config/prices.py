"""Model prices, from the price map that ships with the pinned LiteLLM, never a hand-typed table.

``gateway_config/litellm_prices.json`` is an extract of that map (the priced chat, completion,
responses and embedding entries; the fields cost math needs), written by ``make prices`` from the
LiteLLM in ``runtime/litellm/.venv`` and stamped with its version and the map's sha256; a test
keeps the extract equal to a fresh one of the pinned package. The generator and the cost command
read the extract, so a routing PR needs neither the 750 MB LiteLLM environment nor the network.

A spec model is priced by its provider's own entry: the map key is the model id (OpenAI, Anthropic)
and the entry's ``litellm_provider`` must be that provider (DeepSeek's own price for
``deepseek/deepseek-chat`` is not OpenRouter's). A model the map lacks names a map key in
``price_as`` (the same model served by another provider), which the spec shows to reviewers.

    python -m gateway_config.prices extract <litellm package dir> [--out FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent
PRICES_FILE = PACKAGE_DIR / "litellm_prices.json"
MAP_FILE_NAME = "model_prices_and_context_window_backup.json"
PRICED_MODES = ("chat", "completion", "responses", "embedding")
KEPT_FIELDS = (
    "litellm_provider",
    "mode",
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
)
# The map's provider name for each spec provider kind whose models it may price by id.
MAP_PROVIDER = {"openai": "openai", "anthropic": "anthropic", "openrouter": "openrouter"}


class PriceError(ValueError):
    """A model the price map cannot price; the message says what to do."""


@dataclass(frozen=True)
class Price:
    """USD per token, and the map entry it comes from."""

    key: str
    input_per_token: float
    output_per_token: float
    cache_read_per_token: float | None = None

    def cost(self, prompt_tokens: float, completion_tokens: float) -> float:
        return prompt_tokens * self.input_per_token + completion_tokens * self.output_per_token


@dataclass(frozen=True)
class PriceMap:
    litellm_version: str
    entries: Mapping[str, Mapping[str, Any]]

    def price(self, key: str) -> Price:
        entry = self.entries[key]
        return Price(
            key=key,
            input_per_token=float(entry.get("input_cost_per_token", 0.0)),
            output_per_token=float(entry.get("output_cost_per_token", 0.0)),
            cache_read_per_token=entry.get("cache_read_input_token_cost"),
        )


@cache
def load_price_map(path: Path = PRICES_FILE) -> PriceMap:
    data = json.loads(path.read_text(encoding="utf-8"))
    return PriceMap(litellm_version=data["litellm_version"], entries=data["models"])


def model_price(provider_kind: str, model_id: str, price_as: str | None, prices: PriceMap | None = None) -> Price:
    """The price of one spec model; raises :class:`PriceError` naming the missing key."""
    prices = prices or load_price_map()
    if price_as is not None:
        if price_as not in prices.entries:
            raise PriceError(
                f"price_as {price_as!r} is not a key of LiteLLM {prices.litellm_version}'s price map "
                "(gateway_config/litellm_prices.json)"
            )
        return prices.price(price_as)
    provider = MAP_PROVIDER.get(provider_kind)
    entry = prices.entries.get(model_id)
    if provider is not None and entry is not None and entry.get("litellm_provider") == provider:
        return prices.price(model_id)
    raise PriceError(
        f"LiteLLM {prices.litellm_version}'s price map has no {provider_kind} entry for {model_id!r}, so its "
        "cost could not be measured or budgeted; use a model the map knows, or set price_as to a key of "
        "gateway_config/litellm_prices.json"
    )


# --- the extract ----------------------------------------------------------------------------------


def _litellm_version(package_dir: Path) -> str:
    infos = sorted(package_dir.parent.glob("litellm-*.dist-info"))
    if len(infos) != 1:
        raise PriceError(f"{package_dir.parent}: expected one litellm-*.dist-info, found {len(infos)}")
    return infos[0].name.removeprefix("litellm-").removesuffix(".dist-info")


def _priced(entry: Any) -> bool:
    if not isinstance(entry, dict):
        return False
    return entry.get("mode") in PRICED_MODES and entry.get("input_cost_per_token") is not None


def extract_text(package_dir: Path) -> str:
    """The extract of ``<package_dir>/model_prices_and_context_window_backup.json``, as file text.

    One entry per line, sorted, so a LiteLLM upgrade reads as a diff of the prices that moved."""
    source = package_dir / MAP_FILE_NAME
    raw = source.read_bytes()
    full: dict[str, Any] = json.loads(raw)
    entries = {
        key: {field: value[field] for field in KEPT_FIELDS if value.get(field) is not None}
        for key, value in sorted(full.items())
        if _priced(value)
    }
    header = {
        "generated_by": "make prices (python -m gateway_config.prices extract); do not edit",
        "litellm_version": _litellm_version(package_dir),
        "source": f"litellm/{MAP_FILE_NAME}",
        "source_sha256": hashlib.sha256(raw).hexdigest(),
    }
    lines = [f"  {json.dumps(key)}: {json.dumps(value, sort_keys=True)}" for key, value in entries.items()]
    head = ",\n".join(f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in header.items())
    return "{\n" + head + ',\n  "models": {\n' + ",\n".join("  " + line for line in lines) + "\n  }\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway_config.prices", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    extract = commands.add_parser("extract", help="write the price extract from an installed litellm package")
    extract.add_argument("package_dir", type=Path, help="the litellm package folder (…/site-packages/litellm)")
    extract.add_argument("--out", type=Path, default=PRICES_FILE)
    args = parser.parse_args(argv)
    try:
        text = extract_text(args.package_dir)
    except (OSError, ValueError) as error:
        print(f"{args.package_dir}: {error}", file=sys.stderr)
        return 2
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(json.loads(text)['models'])} models)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
