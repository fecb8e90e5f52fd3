"""Whisper's languages: codes, and English names mapped to codes ("german" → "de")."""

from __future__ import annotations

from c3render.errors import InputError

#: English language names (spaces removed, as request validation allows letters only) → code.
LANGUAGE_NAMES: dict[str, str] = {
    "afrikaans": "af", "albanian": "sq", "amharic": "am", "arabic": "ar", "armenian": "hy",
    "assamese": "as", "azerbaijani": "az", "bashkir": "ba", "basque": "eu", "belarusian": "be",
    "bengali": "bn", "bosnian": "bs", "breton": "br", "bulgarian": "bg", "burmese": "my",
    "cantonese": "yue", "castilian": "es", "catalan": "ca", "chinese": "zh", "croatian": "hr",
    "czech": "cs", "danish": "da", "dutch": "nl", "english": "en", "estonian": "et",
    "faroese": "fo", "finnish": "fi", "flemish": "nl", "french": "fr", "galician": "gl",
    "georgian": "ka", "german": "de", "greek": "el", "gujarati": "gu", "haitian": "ht",
    "haitiancreole": "ht", "hausa": "ha", "hawaiian": "haw", "hebrew": "he", "hindi": "hi",
    "hungarian": "hu", "icelandic": "is", "indonesian": "id", "italian": "it", "japanese": "ja",
    "javanese": "jw", "kannada": "kn", "kazakh": "kk", "khmer": "km", "korean": "ko", "lao": "lo",
    "latin": "la", "latvian": "lv", "letzeburgesch": "lb", "lingala": "ln", "lithuanian": "lt",
    "luxembourgish": "lb", "macedonian": "mk", "malagasy": "mg", "malay": "ms", "malayalam": "ml",
    "maltese": "mt", "mandarin": "zh", "maori": "mi", "marathi": "mr", "moldavian": "ro",
    "moldovan": "ro", "mongolian": "mn", "myanmar": "my", "nepali": "ne", "norwegian": "no",
    "nynorsk": "nn", "occitan": "oc", "panjabi": "pa", "pashto": "ps", "persian": "fa",
    "polish": "pl", "portuguese": "pt", "punjabi": "pa", "pushto": "ps", "romanian": "ro",
    "russian": "ru", "sanskrit": "sa", "serbian": "sr", "shona": "sn", "sindhi": "sd",
    "sinhala": "si", "sinhalese": "si", "slovak": "sk", "slovenian": "sl", "somali": "so",
    "spanish": "es", "sundanese": "su", "swahili": "sw", "swedish": "sv", "tagalog": "tl",
    "tajik": "tg", "tamil": "ta", "tatar": "tt", "telugu": "te", "thai": "th", "tibetan": "bo",
    "turkish": "tr", "turkmen": "tk", "ukrainian": "uk", "urdu": "ur", "uzbek": "uz",
    "valencian": "ca", "vietnamese": "vi", "welsh": "cy", "yiddish": "yi", "yoruba": "yo",
}

#: Every language code Whisper knows.
LANGUAGE_CODES: frozenset[str] = frozenset(LANGUAGE_NAMES.values())


def language_code(value: str) -> str | None:
    """Normalise a request's ``language`` to a Whisper code; ``None`` means detect.

    Accepts codes ("de"), regional codes ("en-US", "pt_BR") and English names ("German").
    Raises ``InputError`` for anything Whisper does not know.
    """
    text = value.strip().lower().replace(" ", "")
    if not text:
        return None
    base = text.replace("_", "-").split("-")[0]
    for candidate in (text, base):
        if candidate in LANGUAGE_CODES:
            return candidate
        if candidate in LANGUAGE_NAMES:
            return LANGUAGE_NAMES[candidate]
    raise InputError(
        f"language {value!r} is not a language Whisper knows; give a code such as 'en', "
        "'de' or 'ja', or an English name such as 'german', or leave it empty to detect"
    )
