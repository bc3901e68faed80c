def new() -> str:
    return "x"
