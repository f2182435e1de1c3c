"""The words the Model panel shows about stored models, as pure functions (tested under CPython)."""

from __future__ import annotations

from pyapp.model.stored import StorageEstimate, StoredModel
from pyapp.ui.status_text import megabytes

NOT_STORED_BECAUSE = {
    "quota": "there is no room left in this browser's storage",
    "unavailable": "this browser refuses to store files for this page (a private window?)",
}
PHASE_WORDS = {
    "resume": "Resuming the download at",
    "verify": "Checking the SHA-256:",
}


def size_label(model: StoredModel) -> str:
    if model.complete:
        return megabytes(model.stored_bytes)
    whole = f" of {megabytes(model.bytes)}" if model.bytes else ""
    return f"{megabytes(model.stored_bytes)}{whole}, incomplete: load it to resume"


def storage_line(estimate: StorageEstimate, models: list[StoredModel]) -> str:
    kept = sum(model.stored_bytes for model in models)
    parts = [f"Models stored here: {megabytes(kept)}",
             f"this site uses {megabytes(estimate.usage)} of the {megabytes(estimate.quota)} the browser allows"]
    if not estimate.persisted:
        parts.append("the browser may clear them when space runs low")
    return " · ".join(parts)


def store_progress_label(phase: str, loaded: float, total: float) -> str | None:
    """Words for the store's own progress phases; None for the others (see status_text)."""
    if phase == "stored":
        return "Using the copy stored in this browser…"
    if phase not in PHASE_WORDS:
        return None
    whole = f" of {megabytes(total)}" if total else ""
    return f"{PHASE_WORDS[phase]} {megabytes(loaded)}{whole}…"


def not_stored_note(reason: str | None) -> str:
    """What to add after "Loaded X." when the model could not be kept; "" when it was."""
    if reason is None:
        return ""
    why = NOT_STORED_BECAUSE.get(reason, reason)
    return f" It was not stored, because {why}: it runs from memory and will be downloaded again next time."
