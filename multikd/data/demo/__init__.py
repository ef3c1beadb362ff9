"""The offline demo corpus: speech rendered by Debian/PyPI synthesizers from text that ships offline.

``engines`` holds the synthesizer registry, ``voices.toml`` the voices, ``texts`` the sentence lists,
``render`` the corpus builder and ``card`` its data card. Entry point: ``multikd corpus demo``.
"""
