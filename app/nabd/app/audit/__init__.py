"""The audit log of clinical actions: its hash chain (``nabd audit verify``) and the signed
checkpoints that anchor it outside the database (``nabd audit checkpoint``, ``keygen``)."""
