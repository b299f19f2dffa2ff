"""my_detector: an example detector plug-in for evalsuite (see README.md)."""
