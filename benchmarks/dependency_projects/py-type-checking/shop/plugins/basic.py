from ...shop import models
