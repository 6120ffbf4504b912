"""Data protection: retention of each class of personal data (``nabd privacy retention``)."""
