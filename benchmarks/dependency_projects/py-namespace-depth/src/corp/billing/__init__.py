from .invoice import Invoice
