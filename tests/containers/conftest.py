"""The session's `just up --containers` (containers_product.py), shared by every module here."""

from containers_product import model, product

__all__ = ["model", "product"]
