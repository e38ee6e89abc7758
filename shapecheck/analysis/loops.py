"""Training loops: recurrent state carried from one iteration to the next."""

from __future__ import annotations
