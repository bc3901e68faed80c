from ..models import Item
from . import tax

class Price:
    def total(self, item: Item) -> int:
        from shop.services.discounts import apply
        return apply(tax.rate())
