"""The scanner itself: it must catch the words it is for and let ordinary service text through."""

from .target_testkit import FORBIDDEN


def test_scanner_flags_names_and_passes_ordinary_words() -> None:
    for text in (
        "POST /_hooks/exit",
        "Chaos",
        "fault",
        "injected",
        "attack-12",
        "disk_fill",
        "crashed",
        "admin-tok-3141",
    ):
        assert FORBIDDEN.search(text), text
    for text in (
        "default stock",
        "QueuePool limit of size 5",
        "No space left on device",
        "database is locked",
    ):
        assert FORBIDDEN.search(text) is None, text
