"""The operator console: pages rendered from the console's own API (``pages``) in English or Chinese (``i18n``)."""

from shared.console import i18n, pages

__all__ = ["i18n", "pages"]
