"""The closed set of named transforms; importing this package fills ``REGISTRY``."""

from leadbridge.mappings.transforms import geo, text, time, values
from leadbridge.mappings.transforms.base import REGISTRY, Args, Transform, ValueProblem, is_empty

__all__ = ["REGISTRY", "Args", "Transform", "ValueProblem", "geo", "is_empty", "text", "time", "values"]
