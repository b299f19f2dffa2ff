"""evalsuite: batch evaluation of industrial visual anomaly detection (PatchCore vs PaDiM)."""

__version__ = "0.1.0"
