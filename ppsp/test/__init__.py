"""Tests for ppsp."""
