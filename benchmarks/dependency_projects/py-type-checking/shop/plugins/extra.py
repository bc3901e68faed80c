from .. import services
from ..services import tax, pricing as p
