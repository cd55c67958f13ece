"""DICOMweb (QIDO-RS, WADO-RS, STOW-RS) under /dicomweb/projects/<project id>/."""
