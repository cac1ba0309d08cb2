"""Failure diagnosis: a finished run's failure modes, labelled from its journal.

The labels follow the categories of the MAST taxonomy (Cemri et al. 2025, "Why Do Multi-Agent
LLM Systems Fail?") that a journal can show — step repetition, loops, unawareness of
termination, derailment, ignored inputs, missing or failed verification, task misallocation —
plus the stops of Podium's own limits (budgets, breakers, approvals, timeouts). Each finding
names the events that show it and how sure the rule is.

```python
from podium.diagnose import diagnose_run

diagnosis = await diagnose_run(store, run_id)
diagnosis.labels      # ["loop", "step_repetition"]
diagnosis.to_json()   # findings with their evidence (seq numbers) and confidence
```
"""

from podium.diagnose._diagnose import diagnose, diagnose_run
from podium.diagnose._journal import Similarity, lexical_similarity
from podium.diagnose._model import LABELS, MODES, Diagnosis, Evidence, Finding, Mode

__all__ = [
    "LABELS",
    "MODES",
    "Diagnosis",
    "Evidence",
    "Finding",
    "Mode",
    "Similarity",
    "diagnose",
    "diagnose_run",
    "lexical_similarity",
]
