"""The audit log of clinical actions: checking its hash chain (``nabd audit verify``)."""
