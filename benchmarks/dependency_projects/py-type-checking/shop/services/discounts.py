import importlib

def apply(n):
    plugin = importlib.import_module("shop.plugins.basic")
    other = __import__("shop.plugins.extra")
    name = "shop.plugins." + "x"
    importlib.import_module(name)
    return n
