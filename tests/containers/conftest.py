"""The session's `just up --containers` (containers_product.py), shared by every module here."""

from containers_product import product

__all__ = ["product"]
