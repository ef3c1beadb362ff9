"""The shared IPA front end: languages, normalisation, G2P backends, IPA tokens, features, symbols."""
from multikd.text.frontend import Frontend, G2PResult, get_frontend, phonemize
from multikd.text.languages import Language, get_language
from multikd.text.symbols import SymbolTable

__all__ = ["Frontend", "G2PResult", "Language", "SymbolTable", "get_frontend", "get_language", "phonemize"]
