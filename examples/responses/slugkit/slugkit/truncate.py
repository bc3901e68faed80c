"""Shortening slugs without cutting words."""


def truncate_slug(slug: str, max_length: int, separator: str = "-") -> str:
    """Drop whole trailing words until the slug fits; cut the first word only if it alone
    is too long."""
    if max_length < 1:
        raise ValueError("max_length must be at least 1")
    if len(slug) <= max_length:
        return slug
    words = slug.split(separator)
    kept: list[str] = []
    for word in words:
        candidate = separator.join([*kept, word])
        if len(candidate) > max_length:
            break
        kept.append(word)
    if not kept:
        return words[0][:max_length]
    return separator.join(kept)
