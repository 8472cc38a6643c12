"""Measurements: the evidence behind each claim, one file per measurement, each defining the record types of its
rows. They are registered and run (rows to the store with hardware and versions) by seqarena.engine.measurements;
`seqarena measure NAME` does the same from the command line."""
