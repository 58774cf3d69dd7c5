"""Comparative benchmark suite for generative models on MNIST-class images.

Importing this package never imports Keras: the backend is chosen in ``__main__`` first.
"""

__version__ = "0.1.0"
