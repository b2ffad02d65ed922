"""How a run's examples merge into the session's ``generated_examples``."""

from __future__ import annotations

from collections.abc import Callable


def merge_examples(
    existing: list[dict], new: list[dict], *, first_batch: bool, key: Callable[[dict], str] = lambda e: e["lead_id"]
) -> list[dict]:
    """Merge in request order. Entries are dicts with a ``status``; ``key`` names the lead.

    - ``first_batch``: the run's examples replace the list.
    - otherwise: an example of a lead already present replaces it in place; a
      new lead is appended. A failed result never replaces an earlier completed
      example of the same lead, so a failed top-up loses nothing.
    - the same lead twice in one request keeps one entry, the later result.
    """
    merged: list[dict] = [] if first_batch else list(existing)
    position = {key(example): i for i, example in enumerate(merged)}
    for example in new:
        i = position.get(key(example))
        if i is None:
            position[key(example)] = len(merged)
            merged.append(example)
        elif example["status"] == "completed" or merged[i]["status"] != "completed":
            merged[i] = example
    return merged
