"""leadbridge: route qualified leads from a manufacturer's CRM to channel partners and back."""

__version__ = "0.1.0"
