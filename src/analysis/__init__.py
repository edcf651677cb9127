"""Dropout-control analytics (控辍保学) for a prefecture's education bureau."""

__version__ = "0.1.0"
