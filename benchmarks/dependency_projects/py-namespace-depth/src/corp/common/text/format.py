from ...billing import invoice

def money(n):
    return str(n)
