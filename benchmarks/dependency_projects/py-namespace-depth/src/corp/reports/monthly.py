from corp.billing import Invoice
from corp.billing.invoice import Invoice as I2
from corp.common.text import format
try:
    from corp.common import fast_ids as ids
except ImportError:
    from corp.common import ids
