"""Language codes the service accepts.

Clients send BCP 47 tags (``en``, ``en-US``, ``es_419``); the service keys
everything on the lower-case ISO 639-1 primary subtag. A code outside ISO 639-1
is rejected with ``unknown_language`` rather than silently passed to engines.
"""

from __future__ import annotations

ISO_639_1 = frozenset(
    """
    aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu
    cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi
    ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks
    ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl
    nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl
    sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve
    vi vo wa wo xh yi yo za zh zu
    """.split()
)


class UnknownLanguageError(ValueError):
    """A language code that is not an ISO 639-1 language."""

    code = "unknown_language"


def normalize_language(tag: str) -> str:
    """Return the ISO 639-1 code of a BCP 47 tag, or raise UnknownLanguageError.

    Args:
        tag: what the client sent, e.g. ``"en"``, ``"en-US"``, ``"PT_br"``.

    Raises:
        UnknownLanguageError: if the primary subtag is not a known language.
    """
    primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    if primary not in ISO_639_1:
        raise UnknownLanguageError(f"unknown language code {tag!r}; use an ISO 639-1 code like 'en'")
    return primary
