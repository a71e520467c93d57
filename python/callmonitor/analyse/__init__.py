"""The analyse stage: replay, export, API derivation, profiles (read -> analyse)."""
