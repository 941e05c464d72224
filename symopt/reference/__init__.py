"""Readers for external reference problems (NIST StRD) used to check accuracy."""
