"""anomalib's image models through the detector protocol (`name = "anomalib"`)."""
