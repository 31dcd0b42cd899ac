"""Wheels: the zip read and checked, members transformed, the wheel written with its RECORD."""
