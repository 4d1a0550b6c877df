"""rlsae: sparse autoencoders for reading what a deep Q-network learned."""

__version__ = "0.1.0"
