"""Which language a resident writes in, for the language of the safety replies.

The script decides first: Arabic letters mean Arabic, Cyrillic means Ukrainian (Russian only when it
has letters Ukrainian lacks and none of Ukraine's own). Latin-script text of at least
``MIN_LETTERS`` letters goes to lingua (lingua-language-detector: its models ship inside the wheel,
nothing is fetched at run time) limited to Dutch, English, Turkish and Polish, and another language
than Dutch is taken only when lingua is at least ``MIN_CONFIDENCE`` sure. Anything shorter or unsure
is Dutch, the wijk's language. lingua loads its models at the first call (about a second, about 150 MB):
call :func:`warm_up` at start so no resident waits for it. Measurements: docs/safety.md.
"""

from __future__ import annotations

import threading
from functools import cache

SUPPORTED = ("nl", "en", "tr", "ar", "pl", "uk")
MIN_LETTERS = 5
MIN_CONFIDENCE = 0.5
_UKRAINIAN_ONLY = set("іїєґ")
_RUSSIAN_ONLY = set("ыэъё")


@cache
def _detector():
    from lingua import Language, LanguageDetectorBuilder

    languages = {Language.DUTCH: "nl", Language.ENGLISH: "en", Language.TURKISH: "tr", Language.POLISH: "pl"}
    return LanguageDetectorBuilder.from_languages(*languages).build(), languages


def detect(text: str) -> str:
    """An ISO 639-1 code: one of SUPPORTED, 'ru', or 'nl' when in doubt."""
    letters = [c for c in text[:2000].lower() if c.isalpha()]
    if not letters:
        return "nl"
    arabic = sum(1 for c in letters if "\u0600" <= c <= "\u06ff")
    cyrillic = [c for c in letters if "\u0400" <= c <= "\u04ff"]
    if arabic * 2 > len(letters):
        return "ar"
    if len(cyrillic) * 2 > len(letters):
        chars = set(cyrillic)
        return "ru" if chars & _RUSSIAN_ONLY and not chars & _UKRAINIAN_ONLY else "uk"
    if len(letters) < MIN_LETTERS:
        return "nl"
    detector, codes = _detector()
    best = detector.compute_language_confidence_values(text[:2000])[0]
    return codes[best.language] if best.value >= MIN_CONFIDENCE else "nl"


def warm_up(background: bool = True) -> None:
    """Load lingua's models now (in a daemon thread unless told otherwise)."""
    if background:
        threading.Thread(target=detect, args=("dit is een zin om de modellen te laden",), daemon=True).start()
    else:
        detect("dit is een zin om de modellen te laden")
