from ..common.text.format import money
from ..common import ids
import corp.common.text.format as fmt

class Invoice:
    pass
