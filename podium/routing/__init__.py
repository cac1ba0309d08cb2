"""Routing: choosing the agent for each task."""

from podium.routing._router import CapabilityRouter, Decision, Router

__all__ = ["CapabilityRouter", "Decision", "Router"]
