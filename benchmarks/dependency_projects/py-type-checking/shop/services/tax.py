def rate() -> int:
    return 1
